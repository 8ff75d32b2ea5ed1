import Testing
import DiffEqCore

/// The one conformance suite of ``DiffEqState`` (as SUNDIALS runs `test_nvector.c` against every
/// N_Vector): every conforming state type, over every scalar it takes, must give each operation
/// the value of its formula, component by component and bit for bit, so that which type holds a
/// state never changes a solve's numbers.
@Suite struct StateConformanceTests {
    enum Kind: String, CaseIterable, Sendable {
        case arrayDouble, arrayFloat, arrayDual
        case simd2, simd3, simd4, simd8
        case staticVector3, staticVector5, fixedDual, fixedFloat
    }

    @Test(arguments: Kind.allCases)
    func conforms(_ kind: Kind) {
        switch kind {
        case .arrayDouble: check([Double](repeating: 0, count: 7), bits: Self.bits)
        case .arrayFloat: check([Float](repeating: 0, count: 4), bits: Self.bits)
        case .arrayDual: check([Dual<2, Double>](repeating: .zero, count: 5), bits: Self.bits)
        case .simd2: checkStatic(SIMD2<Double>(), bits: Self.bits)
        case .simd3: checkStatic(SIMD3<Double>(), bits: Self.bits)
        case .simd4: checkStatic(SIMD4<Double>(), bits: Self.bits)
        case .simd8: checkStatic(SIMD8<Double>(), bits: Self.bits)
        case .staticVector3: checkStatic(StaticVector<3>(), bits: Self.bits)
        case .staticVector5: checkStatic(StaticVector<5>(), bits: Self.bits)
        case .fixedDual: checkStatic(FixedVector<3, Dual<2, Double>>(), bits: Self.bits)
        case .fixedFloat: checkStatic(FixedVector<2, Float>(), bits: Self.bits)
        }
    }

    // The bit patterns of every component of a scalar (value, then partials).
    static func bits(_ x: Double) -> [UInt64] { [x.bitPattern] }
    static func bits(_ x: Float) -> [UInt64] { [UInt64(x.bitPattern)] }
    static func bits(_ x: Dual<2, Double>) -> [UInt64] { [x.value.bitPattern, x.partials[0].bitPattern, x.partials[1].bitPattern] }

    /// A scalar with distinct, non-trivial value and partials from `seed` (partials through the
    /// dual's constructor where the scalar has them).
    static func sample<S: DiffEqScalar>(_ seed: Int, as _: S.Type) -> S {
        let x = S(0.37 + 1.3 * Double.sin(Double(seed) * 1.7))
        // `x * y` with `y` a dual whose partials are nonzero gives partials to duals; for plain
        // reals it is a product of two reals.
        let y = S(1.1 + 0.2 * Double(seed % 3))
        return x * y + S(1e-3 * Double(seed))
    }

    func filled<State: DiffEqState>(_ zero: State, seed: Int) -> State {
        var s = zero
        for m in 0..<s.count {
            var v = Self.sample(seed &* 31 &+ m, as: State.Scalar.self)
            if let dual = v as? Dual<2, Double> {
                // Give the partials values of their own so that partials are checked too.
                var d = dual
                d.partials[0] = 0.5 - Double(m)
                d.partials[1] = Double(seed) * 0.25 + 0.125
                v = d as! State.Scalar
            }
            s[m] = v
        }
        return s
    }

    func equalBits<State: DiffEqState>(_ a: State, _ b: State, bits: @escaping (State.Scalar) -> [UInt64]) -> Bool {
        guard a.count == b.count else { return false }
        return (0..<a.count).allSatisfy { bits(a[$0]) == bits(b[$0]) }
    }

    /// The checks of every ``DiffEqState``.
    func check<State: DiffEqState>(_ zero: State, bits: @escaping (State.Scalar) -> [UInt64]) {
        let n = zero.count
        #expect(n > 0)
        let x = filled(zero, seed: 1)
        let y = filled(zero, seed: 2)

        // Element access and value semantics.
        var copy = x
        var written = x
        written[n - 1] = State.Scalar(42.0)
        #expect(written[n - 1].primal == 42)
        #expect(equalBits(copy, x, bits: bits), "writing a copy changed the original")
        copy[0] = State.Scalar(-1.0)
        #expect(x[0].primal != -1)

        // zeroed: same length, every component (value and partials) zero.
        let z = x.zeroed()
        #expect(z.count == n)
        #expect((0..<n).allSatisfy { z[$0].sumOfSquaredComponents == 0 })

        // addScaled: y[m] + x[m]·c, bit for bit.
        for c in [0.0, 1.0, -0.3125, 1.0 / 3.0, 7.5e5] {
            var sum = y
            sum.addScaled(x, c)
            var expected = y
            for m in 0..<n { expected[m] = y[m] + x[m].scaled(by: c) }
            #expect(equalBits(sum, expected, bits: bits), "addScaled by \(c)")

            var scaled = y
            scaled.assignScaled(x, c)
            for m in 0..<n { expected[m] = x[m].scaled(by: c) }
            #expect(equalBits(scaled, expected, bits: bits), "assignScaled by \(c)")
        }

        // A stage sum u + Σ c_j k_j term by term is the same as each term in turn.
        var stage = x
        stage.addScaled(y, 0.25)
        stage.addScaled(x, -1.5)
        var byHand = x
        for m in 0..<n { byHand[m] = (x[m] + y[m].scaled(by: 0.25)) + x[m].scaled(by: -1.5) }
        #expect(equalBits(stage, byHand, bits: bits))

        // Finiteness sees every component (a NaN partial makes the state non-finite).
        #expect(x.isFiniteState)
        for m in [0, n - 1] {
            var bad = x
            bad[m] = State.Scalar(Double.nan)
            #expect(!bad.isFiniteState, "NaN at \(m)")
            var infinite = x
            infinite[m] = State.Scalar(-Double.infinity)
            #expect(!infinite.isFiniteState, "-inf at \(m)")
        }

        // The weighted sum of squares and the RMS norm, against their formulas.
        let abstol = zero.assigning(primal: (0..<n).map { 1e-6 * Double($0 + 1) })
        let reltol = 1e-3
        var expectedSum = 0.0, expectedReciprocal = 0.0
        for m in 0..<n {
            let w = errorWeight(abstol: abstol[m].primal, reltol: reltol, x[m].primal, y[m].primal)
            expectedSum += y[m].sumOfSquaredComponents / (w * w)
            expectedReciprocal += y[m].sumOfSquaredComponents * (1 / (w * w))
        }
        let sum = y.weightedSumOfSquares(from: x, to: y, abstol: abstol, reltol: reltol)
        #expect(sum.bitPattern == expectedSum.bitPattern)
        let viaReciprocal = y.weightedSumOfSquares(from: x, to: y, abstol: abstol, reltol: reltol, viaReciprocal: true)
        #expect(viaReciprocal.bitPattern == expectedReciprocal.bitPattern)
        let rms = y.weightedRMSNorm(from: x, to: y, abstol: abstol, reltol: reltol)
        #expect(rms.bitPattern == (expectedSum / Double(n * State.Scalar.componentCount)).squareRoot().bitPattern)
        // The error weight uses the larger end: swapping the ends does not change the sum.
        #expect(y.weightedSumOfSquares(from: y, to: x, abstol: abstol, reltol: reltol).bitPattern == sum.bitPattern)

        // Components out and back.
        #expect(equalBits(zero.assigning(x.components), x, bits: bits))
        #expect(x.components.count == n)

        checkStageBlock(zero, abstol: abstol, reltol: reltol, bits: bits)
    }

    /// The stage block and its fused operations (what the explicit RK stepper runs on): stages
    /// stored and read back exactly, and `linearCombination` and `weightedStageSumOfSquares`
    /// equal, bit for bit, to their formulas summed in stage order per component with the
    /// products `scale·c_j` formed once.
    func checkStageBlock<State: DiffEqState>(
        _ zero: State, abstol: State, reltol: Double, bits: @escaping (State.Scalar) -> [UInt64]
    ) {
        let n = zero.count
        let stageCount = 4
        let stride = zero.stageStride
        let stages = (0..<stageCount).map { filled(zero, seed: 10 + $0) }
        let block = UnsafeMutablePointer<State.StageElement>.allocate(capacity: stageCount * stride)
        block.initialize(repeating: zero.stageElementZero, count: stageCount * stride)
        defer {
            block.deinitialize(count: stageCount * stride)
            block.deallocate()
        }
        for j in 0..<stageCount { stages[j].store(into: block, stage: j) }
        for j in 0..<stageCount {
            for m in 0..<n {
                #expect(bits(State.component(m, ofStage: j, in: block, stride: stride)) == bits(stages[j][m]), "stage \(j), \(m)")
            }
        }
        let c: [Double] = [0.3, -1.0 / 3.0, 2.5e-3, 7]
        let scale = 0.1875 + 1e-9
        let base = filled(zero, seed: 5)
        for count in 0...stageCount {
            var combined = zero.zeroed()
            c.withUnsafeBufferPointer { cp in
                combined.linearCombination(base: base, stages: block, coefficients: cp.baseAddress!, scale: scale, count: count)
            }
            var expected = base
            for m in 0..<n {
                var acc = base[m]
                for j in 0..<count { acc = acc + stages[j][m].scaled(by: scale * c[j]) }
                expected[m] = acc
            }
            #expect(equalBits(combined, expected, bits: bits), "linearCombination over \(count) stages")

            let tolerance = ErrorScale(reltol: reltol, abstol: (0..<n).map { abstol[$0].primal })
            let sum = c.withUnsafeBufferPointer { cp in
                State.weightedStageSumOfSquares(
                    stages: block, coefficients: cp.baseAddress!, scale: scale, count: count, from: base, to: expected,
                    abstol: abstol, tolerance: tolerance)
            }
            var expectedSum = 0.0
            for m in 0..<n {
                var e = State.Scalar.zero
                for j in 0..<count { e = e + stages[j][m].scaled(by: scale * c[j]) }
                let w = errorWeight(abstol: abstol[m].primal, reltol: reltol, base[m].primal, expected[m].primal)
                expectedSum += e.sumOfSquaredComponents * (1 / (w * w))
            }
            #expect(sum.bitPattern == expectedSum.bitPattern, "weightedStageSumOfSquares over \(count) stages")
        }
        var copied = zero.zeroed()
        copied.copyComponents(from: base)
        #expect(equalBits(copied, base, bits: bits))
        checkGatheredSums(zero, stages: stages, block: block, base: base, abstol: abstol, reltol: reltol, bits: bits)
        checkNewtonStageOperations(zero, stages: stages, block: block, base: base, abstol: abstol, reltol: reltol, bits: bits)
    }

    /// The operations of an SDIRK stage (what the SDIRK stepper runs on), equal bit for bit to
    /// their formulas per component: the stage start `ũ = base + U·(w·scale) + …` in term order
    /// with the predictor `z = U_p·c` (or zero) and `ũ + z`; the residual `x·c − y`; the
    /// correction `z + δ` with `base + z` and the sum of `‖δ‖²/w²` weighted at `a` and `base + z`.
    func checkNewtonStageOperations<State: DiffEqState>(
        _ zero: State, stages: [State], block: UnsafeMutablePointer<State.StageElement>, base: State, abstol: State,
        reltol: Double, bits: @escaping (State.Scalar) -> [UInt64]
    ) {
        let n = zero.count
        let stride = zero.stageStride
        let termStages = [0, 1, 3, 1]
        let offsets = termStages.map { $0 * stride }
        let w: [Double] = [0.25, -1.0 / 3.0, 0, 2.125e-2]
        let scale = 0.0625 + 1e-11
        let c = 1 / 0.43
        let tolerance = ErrorScale(reltol: reltol, abstol: (0..<n).map { abstol[$0].primal })
        let runs = (0...termStages.count).flatMap { first in (first...termStages.count).map { (first, $0) } }
        for (first, last) in runs {
            for predictor in [-1, 0, 2] {
                var start = filled(zero, seed: 21)
                var z = filled(zero, seed: 22)
                var argument = filled(zero, seed: 23)
                offsets.withUnsafeBufferPointer { o in
                    w.withUnsafeBufferPointer { wp in
                        start.startImplicitStage(
                            z: &z, argument: &argument, base: base, stages: block, offsets: o.baseAddress!,
                            coefficients: wp.baseAddress!, scale: scale, terms: first, to: last,
                            predictor: predictor < 0 ? -1 : predictor * stride, predictorScale: c)
                    }
                }
                var expected = base, expectedZ = base, expectedArgument = base
                for m in 0..<n {
                    var acc = base[m]
                    for k in first..<last { acc = acc + stages[termStages[k]][m].scaled(by: w[k] * scale) }
                    let zm = predictor < 0 ? State.Scalar.zero : stages[predictor][m].scaled(by: c)
                    expected[m] = acc
                    expectedZ[m] = zm
                    expectedArgument[m] = acc + zm
                }
                let label = "startImplicitStage over terms \(first)..<\(last), predictor \(predictor)"
                #expect(equalBits(start, expected, bits: bits), "\(label): ũ")
                #expect(equalBits(z, expectedZ, bits: bits), "\(label): z")
                #expect(equalBits(argument, expectedArgument, bits: bits), "\(label): ũ + z")
            }
        }

        let slot = UnsafeMutablePointer<State.StageElement>.allocate(capacity: stride)
        slot.initialize(repeating: zero.stageElementZero, count: stride)
        defer {
            slot.deinitialize(count: stride)
            slot.deallocate()
        }
        let x = filled(zero, seed: 31)
        let y = filled(zero, seed: 32)
        for scaleBy in [1.0, -0.75, 1 / 0.37, 0] {
            State.storeNewtonResidual(into: slot, x, scaledBy: scaleBy, minus: y)
            for m in 0..<n {
                #expect(
                    bits(State.component(m, ofStage: 0, in: slot, stride: stride)) == bits(x[m].scaled(by: scaleBy) - y[m]),
                    "storeNewtonResidual scaled by \(scaleBy), component \(m)")
            }
        }

        let delta = filled(zero, seed: 33)
        delta.store(into: slot, stage: 0)
        let z0 = filled(zero, seed: 34)
        var z = z0
        var argument = filled(zero, seed: 35)
        let sum = z.addNewtonCorrection(slot, base: base, argument: &argument, from: y, abstol: abstol, tolerance: tolerance)
        var expectedZ = z0, expectedArgument = z0
        var expectedSum = 0.0
        for m in 0..<n {
            expectedZ[m] = z0[m] + delta[m]
            expectedArgument[m] = base[m] + expectedZ[m]
            let weight = errorWeight(abstol: abstol[m].primal, reltol: reltol, y[m].primal, expectedArgument[m].primal)
            expectedSum += delta[m].sumOfSquaredComponents / (weight * weight)
        }
        #expect(equalBits(z, expectedZ, bits: bits), "addNewtonCorrection: z + δ")
        #expect(equalBits(argument, expectedArgument, bits: bits), "addNewtonCorrection: base + z")
        #expect(sum.bitPattern == expectedSum.bitPattern, "addNewtonCorrection: weighted sum of squares")
    }

    /// The gathered sums (what the Rosenbrock stepper runs on), over terms that name their
    /// stages out of order and repeat one, equal bit for bit to their formulas summed in term
    /// order per component: `base + U·w + …`, `(a + b·c) + (0 + U·w + …)`, and the weighted sum
    /// of squares of `0 + U·w + …` with `e²/w²`.
    func checkGatheredSums<State: DiffEqState>(
        _ zero: State, stages: [State], block: UnsafeMutablePointer<State.StageElement>, base: State, abstol: State,
        reltol: Double, bits: @escaping (State.Scalar) -> [UInt64]
    ) {
        let n = zero.count
        let stride = zero.stageStride
        let termStages = [2, 0, 3, 2, 1]
        let offsets = termStages.map { $0 * stride }
        let w: [Double] = [-0.7, 1.0 / 7.0, 3.25, 1e-3, -11]
        let b = filled(zero, seed: 7)
        let c = -0.4375 + 1e-10
        let slot = UnsafeMutablePointer<State.StageElement>.allocate(capacity: stride)
        slot.initialize(repeating: zero.stageElementZero, count: stride)
        defer {
            slot.deinitialize(count: stride)
            slot.deallocate()
        }
        let tolerance = ErrorScale(reltol: reltol, abstol: (0..<n).map { abstol[$0].primal })
        // Every run of terms `first ..< last` of the table, the empty ones included.
        let runs = (0...termStages.count).flatMap { first in (first...termStages.count).map { (first, $0) } }
        let scale = 1 / 0.37
        for (first, last) in runs {
            offsets.withUnsafeBufferPointer { o in
                w.withUnsafeBufferPointer { wp in
                    var combined = zero.zeroed()
                    combined.gatheredCombination(
                        base: base, stages: block, offsets: o.baseAddress!, coefficients: wp.baseAddress!, terms: first,
                        to: last)
                    var expected = base
                    for m in 0..<n {
                        var acc = base[m]
                        for k in first..<last { acc = acc + stages[termStages[k]][m].scaled(by: w[k]) }
                        expected[m] = acc
                    }
                    #expect(equalBits(combined, expected, bits: bits), "gatheredCombination over terms \(first)..<\(last)")

                    for (addingB, termScale) in [(false, 1.0), (true, 1.0), (false, scale), (true, scale)] {
                        State.storeGatheredSum(
                            into: slot, base, plus: b, scaledBy: c, addingB: addingB, stages: block,
                            offsets: o.baseAddress!, coefficients: wp.baseAddress!, scale: termScale, terms: first,
                            to: last)
                        for m in 0..<n {
                            var x = State.Scalar.zero
                            for k in first..<last { x = x + stages[termStages[k]][m].scaled(by: w[k] * termScale) }
                            var r = base[m]
                            if addingB { r = r + b[m].scaled(by: c) }
                            #expect(
                                bits(State.component(m, ofStage: 0, in: slot, stride: stride)) == bits(r + x),
                                "storeGatheredSum over terms \(first)..<\(last) scaled by \(termScale), component \(m)")
                        }
                    }

                    let sum = State.gatheredWeightedSumOfSquares(
                        stages: block, offsets: o.baseAddress!, coefficients: wp.baseAddress!, terms: first, to: last,
                        from: base, to: b, abstol: abstol, tolerance: tolerance)
                    var expectedSum = 0.0
                    for m in 0..<n {
                        var e = State.Scalar.zero
                        for k in first..<last { e = e + stages[termStages[k]][m].scaled(by: w[k]) }
                        let weight = errorWeight(abstol: abstol[m].primal, reltol: reltol, base[m].primal, b[m].primal)
                        expectedSum += e.sumOfSquaredComponents / (weight * weight)
                    }
                    #expect(
                        sum.bitPattern == expectedSum.bitPattern,
                        "gatheredWeightedSumOfSquares over terms \(first)..<\(last)")
                }
            }
        }
    }

    /// The checks of every ``StaticState``: its value arithmetic agrees with the fused operations.
    func checkStatic<State: StaticState>(_ zero: State, bits: @escaping (State.Scalar) -> [UInt64]) {
        check(zero, bits: bits)
        let x = filled(zero, seed: 3)
        let y = filled(zero, seed: 4)
        #expect(State().count == zero.count && State().scalarCount == zero.count)
        #expect(equalBits(State(), x.zeroed(), bits: bits))
        var fused = y
        fused.addScaled(x, -0.75)
        #expect(equalBits(y + x * -0.75, fused, bits: bits))
        var difference = y
        for m in 0..<y.count { difference[m] = y[m] - x[m] }
        #expect(equalBits(y - x, difference, bits: bits))
        #expect(x.array == x.components.map(\.primal))
    }
}
