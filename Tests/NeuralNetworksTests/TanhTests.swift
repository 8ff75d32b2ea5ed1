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
