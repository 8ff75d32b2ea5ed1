// The fused operations of DiffEqState that an (E)SDIRK step runs per stage (Hairer & Wanner,
// Solving ODEs II, §IV.8, the z form): the stage's start (`ũ_i` as a gathered sum over the
// earlier stages, the predictor `z` and `f`'s first argument `ũ_i + z`), the simplified Newton
// residual `γh f − z`, formed in a slot of the stage block where it is then solved in place,
// and the correction `z += δ` with the next argument and the correction's weighted norm.
//
// As for the gathered sums (GatheredStageSums.swift), each component gets the same operations in
// the same order in every layout: a value state as whole values, an array in one pass over its
// components with each component's sum in a register, so the layout changes no bit
// (`StateConformanceTests`). `x·1` is `x` and `x + y·(−1)` is `x − y` exactly, which lets the
// value defaults be written with `addScaled` alone.

extension DiffEqState where StageElement == Self {
    @inlinable @inline(__always)
    public mutating func startImplicitStage(
        z: inout Self, argument: inout Self, base: Self, stages U: UnsafePointer<Self>, offsets o: UnsafePointer<Int>,
        coefficients w: UnsafePointer<Double>, scale: Double, terms first: Int, to last: Int, predictor p: Int,
        predictorScale c: Double
    ) {
        var acc = base
        var k = first
        while k < last {
            acc.addScaled(U[o[k]], w[k] * scale)
            k &+= 1
        }
        var predicted = base.zeroed()
        if p >= 0 { predicted.assignScaled(U[p], c) }
        var x = acc
        x.addScaled(predicted, 1)
        self = acc
        z = predicted
        argument = x
    }

    @inlinable @inline(__always)
    public static func storeNewtonResidual(into slot: UnsafeMutablePointer<Self>, _ x: Self, scaledBy c: Double, minus y: Self) {
        var r = y
        r.assignScaled(x, c)
        r.addScaled(y, -1)
        slot.pointee = r
    }

    @inlinable @inline(__always)
    public mutating func addNewtonCorrection(
        _ delta: UnsafePointer<Self>, base: Self, argument: inout Self, from a: Self, abstol: Self, tolerance: ErrorScale
    ) -> Double {
        let d = delta.pointee
        addScaled(d, 1)
        var x = base
        x.addScaled(self, 1)
        argument = x
        return d.weightedSumOfSquares(from: a, to: x, abstol: abstol, reltol: tolerance.reltol, viaReciprocal: false)
    }
}

// An array's block is flat scalars: one pass over the components, each written once.
extension Array where Element: DiffEqScalar {
    @inlinable @inline(__always)
    public mutating func startImplicitStage(
        z: inout [Element], argument: inout [Element], base: [Element], stages U: UnsafePointer<Element>,
        offsets o: UnsafePointer<Int>, coefficients w: UnsafePointer<Double>, scale: Double, terms first: Int,
        to last: Int, predictor p: Int, predictorScale c: Double
    ) {
        base.withUnsafeBufferPointer { up in
            z.withUnsafeMutableBufferPointer { zp in
                argument.withUnsafeMutableBufferPointer { ap in
                    withUnsafeMutableBufferPointer { out in
                        for m in 0..<out.count {
                            let acc = Self.termSum(
                                up[m], component: m, stages: U, offsets: o, coefficients: w, scale: scale, terms: first, to: last)
                            let zm = p >= 0 ? U[p &+ m].scaled(by: c) : Element.zero
                            out[m] = acc
                            zp[m] = zm
                            ap[m] = acc + zm
                        }
                    }
                }
            }
        }
    }

    @inlinable @inline(__always)
    public static func storeNewtonResidual(
        into slot: UnsafeMutablePointer<Element>, _ x: [Element], scaledBy c: Double, minus y: [Element]
    ) {
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in
                for m in 0..<xp.count { slot[m] = xp[m].scaled(by: c) - yp[m] }
            }
        }
    }

    @inlinable @inline(__always)
    public mutating func addNewtonCorrection(
        _ delta: UnsafePointer<Element>, base: [Element], argument: inout [Element], from a: [Element],
        abstol: [Element], tolerance: ErrorScale
    ) -> Double {
        let n = count
        precondition(tolerance.abstol.count >= n, "the error scale has fewer tolerances than the state has components")
        let reltol = tolerance.reltol
        var sum = 0.0
        withUnsafeMutableBufferPointer { zp in
            base.withUnsafeBufferPointer { bp in
                argument.withUnsafeMutableBufferPointer { ap in
                    a.withUnsafeBufferPointer { up in
                        tolerance.abstol.withUnsafeBufferPointer { tol in
                            for m in 0..<n {
                                let d = delta[m]
                                let zm = zp[m] + d
                                zp[m] = zm
                                let v = bp[m] + zm
                                ap[m] = v
                                let sc = errorWeight(abstol: tol[m], reltol: reltol, up[m].primal, v.primal)
                                sum += d.sumOfSquaredComponents / (sc * sc)
                            }
                        }
                    }
                }
            }
        }
        return sum
    }
}
