// The stage block of a Runge-Kutta step in the state's own layout, and the fused linear
// combination over it (SUNDIALS' `N_VLinearCombination`, an optional fused operation of an
// N_Vector; SUNDIALS documentation, "Vector Data Structures", fused and vector-array operations).
//
// One explicit RK stepper serves every state form with these operations. The layout is the
// state's: a value state (SIMD, `FixedVector`) keeps one value per stage, so a stage sum is a
// few whole-value operations in registers; an array keeps its scalars in one flat block, stage
// `j` at `[j·n, (j+1)·n)`, and sums each component over the stages in a register
// (component-outer), the loop the array form has always run. Either way each component is
// `base[m] + k_0[m]·(h c_0) + k_1[m]·(h c_1) + …` in stage order with the products `h·c_j`
// formed once, so the layout never changes a bit (`StateConformanceTests`).

extension DiffEqState where StageElement == Self {
    @inlinable @inline(__always) public var stageStride: Int { 1 }

    @inlinable public var stageElementZero: Self { zeroed() }

    @inlinable @inline(__always)
    public func store(into block: UnsafeMutablePointer<Self>, stage j: Int) { block[j] = self }

    @inlinable @inline(__always)
    public static func component(_ m: Int, ofStage j: Int, in block: UnsafePointer<Self>, stride: Int) -> Scalar {
        block[j][m]
    }

    @inlinable @inline(__always)
    public mutating func linearCombination(
        base: Self, stages: UnsafePointer<Self>, coefficients c: UnsafePointer<Double>, scale: Double, count: Int
    ) {
        var g = base
        for j in 0..<count { g.addScaled(stages[j], scale * c[j]) }
        self = g
    }

    @inlinable @inline(__always)
    public static func weightedStageSumOfSquares(
        stages: UnsafePointer<Self>, coefficients c: UnsafePointer<Double>, scale: Double, count: Int,
        from a: Self, to b: Self, abstol: Self, tolerance: ErrorScale
    ) -> Double {
        var e = a.zeroed()
        for j in 0..<count { e.addScaled(stages[j], scale * c[j]) }
        return e.weightedSumOfSquares(from: a, to: b, abstol: abstol, reltol: tolerance.reltol, viaReciprocal: true)
    }
}

extension DiffEqState {
    @inlinable
    public mutating func copyComponents(from x: Self) {
        for m in 0..<count { self[m] = x[m] }
    }

    @inlinable @inline(__always) public func vacated() -> Self { zeroed() }

    @inlinable @inline(__always) public static func takeScratch(_ stored: inout Self) -> Self { stored.zeroed() }

    @inlinable @inline(__always) public static func returnScratch(_ local: inout Self, to stored: inout Self) {}
}

extension StaticState {
    @inlinable @inline(__always) public mutating func copyComponents(from x: Self) { self = x }
}

// Like the stage block's pointer, the states handed to the fused operations have this state's
// length (the stepper's buffers, all of one shape); it is not checked per call.
extension Array where Element: DiffEqScalar {
    @inlinable @inline(__always) public var stageStride: Int { count }

    @inlinable public var stageElementZero: Element { .zero }

    @inlinable @inline(__always) public func vacated() -> [Element] { [] }

    @inlinable @inline(__always)
    public static func takeScratch(_ stored: inout [Element]) -> [Element] {
        var local: [Element] = []
        swap(&local, &stored)
        return local
    }

    @inlinable @inline(__always)
    public static func returnScratch(_ local: inout [Element], to stored: inout [Element]) { swap(&local, &stored) }

    @inlinable @inline(__always)
    public func store(into block: UnsafeMutablePointer<Element>, stage j: Int) {
        withUnsafeBufferPointer { x in
            let slot = block + j &* x.count
            for m in 0..<x.count { slot[m] = x[m] }
        }
    }

    @inlinable @inline(__always)
    public static func component(_ m: Int, ofStage j: Int, in block: UnsafePointer<Element>, stride: Int) -> Element {
        block[j &* stride &+ m]
    }

    @inlinable @inline(__always)
    public mutating func copyComponents(from x: [Element]) {
        let n = Swift.min(count, x.count)
        x.withUnsafeBufferPointer { xp in
            withUnsafeMutableBufferPointer { yp in
                for m in 0..<n { yp[m] = xp[m] }
            }
        }
    }

    // The products `scale·c_j` go to a stack buffer first: the optimizer keeps them in registers
    // across the component loop (it cannot prove that the coefficient table is not written by
    // the stores to `self`), and with a constant `count` (the written-out Tsit5 stages) unrolls
    // the stage loop. The buffer is the unprotected temporary allocation: a stack buffer makes
    // the compiler guard the whole caller (the inlined attempt) with a stack-protector canary
    // (Lorenz Tsit5: 2003.7 → 2000.3 instructions per step without it), and these writes stay
    // inside `0..<count` by construction.
    @inlinable @inline(__always)
    public mutating func linearCombination(
        base: [Element], stages: UnsafePointer<Element>, coefficients c: UnsafePointer<Double>, scale: Double,
        count: Int
    ) {
        _withUnprotectedUnsafeTemporaryAllocation(of: Double.self, capacity: count) { w in
            for j in 0..<count { w[j] = scale * c[j] }
            base.withUnsafeBufferPointer { up in
                withUnsafeMutableBufferPointer { out in
                    let n = out.count
                    for m in 0..<n {
                        var acc = up[m]
                        var kj = stages + m
                        for j in 0..<count {
                            acc += kj.pointee.scaled(by: w[j])
                            kj += n
                        }
                        out[m] = acc
                    }
                }
            }
        }
    }

    @inlinable @inline(__always)
    public static func weightedStageSumOfSquares(
        stages: UnsafePointer<Element>, coefficients c: UnsafePointer<Double>, scale: Double, count: Int,
        from a: [Element], to b: [Element], abstol: [Element], tolerance: ErrorScale
    ) -> Double {
        let n = a.count
        // One length check for the whole loop: through `tolerance.scale(m, …)` the optimizer
        // kept the check of `abstol[m]` inside the loop, with two spilled pointers reloaded per
        // component (Lorenz Tsit5 [Double]: 1939.0 → 1928.0 instructions per step without it).
        // The weight is the same `errorWeight` call, so no bit changes.
        precondition(tolerance.abstol.count >= n, "the error scale has fewer tolerances than the state has components")
        let reltol = tolerance.reltol
        var sum = 0.0
        _withUnprotectedUnsafeTemporaryAllocation(of: Double.self, capacity: count) { w in
            for j in 0..<count { w[j] = scale * c[j] }
            a.withUnsafeBufferPointer { up in
                b.withUnsafeBufferPointer { un in
                    tolerance.abstol.withUnsafeBufferPointer { tol in
                        for m in 0..<n {
                            var err = Element.zero
                            var kj = stages + m
                            for j in 0..<count {
                                err += kj.pointee.scaled(by: w[j])
                                kj += n
                            }
                            let sc = errorWeight(abstol: tol[m], reltol: reltol, up[m].primal, un[m].primal)
                            sum += err.sumOfSquaredComponents * (1 / (sc * sc))
                        }
                    }
                }
            }
        }
        return sum
    }
}
