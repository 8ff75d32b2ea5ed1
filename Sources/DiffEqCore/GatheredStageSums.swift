// Gathered stage sums: the fused operations of DiffEqState that a linearly implicit method
// (Rosenbrock) runs over its stage block, each sum over a run of terms `first ..< last` of a
// term table `(offset, weight)` rather than over every stage (a Rosenbrock tableau is sparse:
// Rodas5P's stage arguments have 1 to 7 nonzero weights of 8).
//
// As for `linearCombination` (StageBlock.swift), each component is summed in term order with the
// same operations in every layout: a value state as whole values (SIMD instructions, unrolled
// loops), an array component by component in a register, so the layout changes no bit
// (`StateConformanceTests`). The term loops are `while` loops over the table's own indices
// `first ..< last`: a range loop over a count of 1 to 8 terms compiled to a two-way unrolled
// body with a prologue and a remainder, more instructions than the sum itself, and a count with
// pointers offset to the run's start cost address arithmetic per component.
//
// `storeGatheredSum` weighs term `k` by `w_k · scale`, the product formed where it is used: a
// Rosenbrock stage's `C_ij/h` is `w_k · (1/h)`. A value state uses each product once; an array
// uses it once per component, so its caller passes products formed once per step with
// `scale: 1` (`x · 1` is `x`, and folds away).

extension DiffEqState where StageElement == Self {
    @inlinable @inline(__always)
    public mutating func gatheredCombination(
        base: Self, stages U: UnsafePointer<Self>, offsets o: UnsafePointer<Int>, coefficients w: UnsafePointer<Double>,
        terms first: Int, to last: Int
    ) {
        var acc = base
        var k = first
        while k < last {
            acc.addScaled(U[o[k]], w[k])
            k &+= 1
        }
        self = acc
    }

    @inlinable @inline(__always)
    public static func storeGatheredSum(
        into slot: UnsafeMutablePointer<Self>, _ a: Self, plus b: Self, scaledBy c: Double, addingB: Bool,
        stages U: UnsafePointer<Self>, offsets o: UnsafePointer<Int>, coefficients w: UnsafePointer<Double>,
        scale: Double, terms first: Int, to last: Int
    ) {
        var x = a.zeroed()
        var k = first
        while k < last {
            x.addScaled(U[o[k]], w[k] * scale)
            k &+= 1
        }
        var r = a
        if addingB { r.addScaled(b, c) }
        // `x·1` is `x` exactly: this is `r + x`.
        r.addScaled(x, 1)
        slot.pointee = r
    }

    @inlinable @inline(__always)
    public static func gatheredWeightedSumOfSquares(
        stages U: UnsafePointer<Self>, offsets o: UnsafePointer<Int>, coefficients w: UnsafePointer<Double>,
        terms first: Int, to last: Int, from a: Self, to b: Self, abstol: Self, tolerance: ErrorScale
    ) -> Double {
        var e = a.zeroed()
        var k = first
        while k < last {
            e.addScaled(U[o[k]], w[k])
            k &+= 1
        }
        return e.weightedSumOfSquares(from: a, to: b, abstol: abstol, reltol: tolerance.reltol, viaReciprocal: false)
    }
}

// An array's block is flat scalars; each component's sum is kept in a register across the terms.
// As for the other fused operations, the states passed in have this state's length.
extension Array where Element: DiffEqScalar {
    /// `start + Σ_k U[o[k] + m]·(w[k]·scale)` over the terms `first ..< last`, added in term order:
    /// component `m` of a gathered sum, the one inner loop of every array operation here and in
    /// NewtonStageOperations.swift. `scale: 1` gives the unscaled sums' bits exactly (`w·1 = w` in
    /// IEEE arithmetic, and the optimizer drops the multiplication).
    @inlinable @inline(__always)
    static func termSum(
        _ start: Element, component m: Int, stages U: UnsafePointer<Element>, offsets o: UnsafePointer<Int>,
        coefficients w: UnsafePointer<Double>, scale: Double, terms first: Int, to last: Int
    ) -> Element {
        var acc = start
        var k = first
        while k < last {
            acc += U[o[k] &+ m].scaled(by: w[k] * scale)
            k &+= 1
        }
        return acc
    }

    @inlinable @inline(__always)
    public mutating func gatheredCombination(
        base: [Element], stages U: UnsafePointer<Element>, offsets o: UnsafePointer<Int>,
        coefficients w: UnsafePointer<Double>, terms first: Int, to last: Int
    ) {
        base.withUnsafeBufferPointer { up in
            withUnsafeMutableBufferPointer { out in
                for m in 0..<out.count {
                    out[m] = Self.termSum(up[m], component: m, stages: U, offsets: o, coefficients: w, scale: 1, terms: first, to: last)
                }
            }
        }
    }

    @inlinable @inline(__always)
    public static func storeGatheredSum(
        into slot: UnsafeMutablePointer<Element>, _ a: [Element], plus b: [Element], scaledBy c: Double, addingB: Bool,
        stages U: UnsafePointer<Element>, offsets o: UnsafePointer<Int>, coefficients w: UnsafePointer<Double>,
        scale: Double, terms first: Int, to last: Int
    ) {
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                for m in 0..<ap.count {
                    let x = Self.termSum(.zero, component: m, stages: U, offsets: o, coefficients: w, scale: scale, terms: first, to: last)
                    var r = ap[m]
                    if addingB { r += bp[m].scaled(by: c) }
                    slot[m] = r + x
                }
            }
        }
    }

    @inlinable @inline(__always)
    public static func gatheredWeightedSumOfSquares(
        stages U: UnsafePointer<Element>, offsets o: UnsafePointer<Int>, coefficients w: UnsafePointer<Double>,
        terms first: Int, to last: Int, from a: [Element], to b: [Element], abstol: [Element], tolerance: ErrorScale
    ) -> Double {
        let n = a.count
        precondition(tolerance.abstol.count >= n, "the error scale has fewer tolerances than the state has components")
        let reltol = tolerance.reltol
        var sum = 0.0
        a.withUnsafeBufferPointer { up in
            b.withUnsafeBufferPointer { un in
                tolerance.abstol.withUnsafeBufferPointer { tol in
                    for m in 0..<n {
                        let e = Self.termSum(.zero, component: m, stages: U, offsets: o, coefficients: w, scale: 1, terms: first, to: last)
                        let sc = errorWeight(abstol: tol[m], reltol: reltol, up[m].primal, un[m].primal)
                        sum += e.sumOfSquaredComponents / (sc * sc)
                    }
                }
            }
        }
        return sum
    }
}
