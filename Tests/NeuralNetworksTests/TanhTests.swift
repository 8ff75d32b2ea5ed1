#if canImport(Glibc) && arch(x86_64)
    import Glibc
    import NeuralNetworks
    import Testing

    /// The Double tanh of the activations against glibc's 80-bit `tanhl`, an independent
    /// reference (64-bit significand: its value rounded to Double is the correctly rounded tanh up
    /// to rare double roundings, which cost at most half an ulp here).
    @Suite("tanh for Double (the activations' own)")
    struct TanhTests {
        /// Error in ulps of the reference value.
        func ulps(_ x: Double) -> Double {
            let reference = Double(tanhl(Float80(x)))
            let value = _networkTanh(x)
            return value == reference ? 0 : abs(value - reference) / reference.ulp
        }

        @Test func withinTwoUlpsOfTanhl() {
            var worst = 0.0
            // Uniform on [-20, 20] (tanh rounds to ±1 beyond 19.06) and log-spaced magnitudes
            // down to 1e-300 of both signs (where tanh x = x to rounding).
            for i in 0...200_000 { worst = max(worst, ulps(-20 + 40 * Double(i) / 200_000)) }
            for i in 0...100_000 {
                let x = pow(10, -300 + (300 + log10(20.0)) * Double(i) / 100_000)
                worst = max(worst, ulps(x), ulps(-x))
            }
            // Measured over 6,000,001 points (the file's note in Tanh.swift): 2 ulp.
            #expect(worst <= 2)
        }

        /// The vectorised loop against the scalar function bit for bit, in place and not, on the
        /// points above, the special values and odd counts (the loop's scalar remainder), and
        /// against glibc's Double `tanh` (Foundation's), within the 3 ulp measured in Tanh.swift.
        @Test func vectorisedLoopMatchesScalarAndGlibc() {
            var xs = (0...20_001).map { -21 + 42 * Double($0) / 20_001 }
            xs += [0, -0.0, 22, -22, 21.999_999, 700, -700, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, 1e-300]
            var ys = [Double](repeating: 0, count: xs.count)
            var worst = 0.0
            for count in [xs.count, xs.count - 1, 1, 3] {
                xs.withUnsafeBufferPointer { x in
                    ys.withUnsafeMutableBufferPointer { y in _networkTanh(x.baseAddress!, into: y.baseAddress!, count: count) }
                }
                for i in 0..<count {
                    let scalar = _networkTanh(xs[i])
                    #expect(ys[i].bitPattern == scalar.bitPattern || (ys[i].isNaN && scalar.isNaN), "x = \(xs[i])")
                    let reference = tanh(xs[i])
                    if reference.isFinite, ys[i] != reference { worst = max(worst, abs(ys[i] - reference) / reference.ulp) }
                }
            }
            var inPlace = xs
            inPlace.withUnsafeMutableBufferPointer { x in _networkTanh(x.baseAddress!, into: x.baseAddress!, count: x.count) }
            for i in xs.indices {
                #expect(inPlace[i].bitPattern == ys[i].bitPattern || (inPlace[i].isNaN && ys[i].isNaN))
            }
            #expect(worst <= 3)
        }

        @Test func oddAndSpecialValues() {
            for x in [0.1, 0.5, 0.55, 0.9, 1, 3, 18, 19.5, 21.9] { #expect(_networkTanh(-x) == -_networkTanh(x)) }
            #expect(_networkTanh(0).sign == .plus && _networkTanh(0) == 0)
            #expect(_networkTanh(-0.0).sign == .minus && _networkTanh(-0.0) == 0)
            #expect(_networkTanh(.leastNonzeroMagnitude) == .leastNonzeroMagnitude)
            #expect(_networkTanh(.infinity) == 1 && _networkTanh(-.infinity) == -1)
            #expect(_networkTanh(22) == 1 && _networkTanh(-700) == -1)
            #expect(_networkTanh(.nan).isNaN)
        }
    }
#endif
