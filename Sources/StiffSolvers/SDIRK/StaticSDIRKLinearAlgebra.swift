import DiffEqCore

// What the fixed-size (E)SDIRK stepper needs of the fixed-size iteration matrix
// (Shared/StaticIterationMatrix.swift) beyond what the Rosenbrock stepper uses: `W = α I + β J`
// with any β (the SDIRK form is `W = I − γhJ`, as SDIRKStepper factors it for arrays), and a
// Jacobian by forward or central differences. Each is the array form's operation for operation
// (DenseIterationMatrix's assembly; JacobianEvaluator's plain differences), so that both forms
// give the same bits.

extension StaticLU {
    /// `W = α I + β J` assembled as the array form's `DenseIterationMatrix` assembles it (`βJ +
    /// α·0` off the diagonal, so the signs of zeros match; `βJ + α` on it) and factored; `nil`
    /// when an entry is not finite or `W` is singular.
    @inlinable @inline(__always)
    static func factoring(_ J: Matrix, alpha: Double, beta: Double) -> StaticLU? {
        let n = Column().scalarCount
        let offDiagonal = Column() * alpha
        var w = Matrix()
        var finite = true
        for j in 0..<n {
            let jacobianColumn = J[column: j]
            var column = jacobianColumn * beta + offDiagonal
            column[j] = beta * jacobianColumn[j] + alpha
            finite = finite && column.isFiniteState
            w[column: j] = column
        }
        guard finite else { return nil }
        var lu = StaticLU(w)
        return lu.factor() ? lu : nil
    }
}

extension StaticLUInMemory {
    /// `W = α I + β J` assembled at `a` (``StaticLUKernel/assemble(_:_:_:into:alpha:beta:)``)
    /// and factored there; `nil` when an entry is not finite or `W` is singular.
    @inlinable @inline(__always)
    static func factoring(
        _ J: inout Column.SquareMatrix, alpha: Double, beta: Double, a: UnsafeMutablePointer<Double>,
        pivots: UnsafeMutablePointer<Int32>, reciprocals: UnsafeMutablePointer<Double>
    ) -> StaticLUInMemory? {
        let n = Column().scalarCount
        let ld = StaticLUKernel.leadingDimension(Column.self)
        let assembled = withUnsafePointer(to: &J) { matrix in
            matrix.withMemoryRebound(to: Double.self, capacity: n &* ld) { jacobian in
                StaticLUKernel.assemble(n, ld, jacobian, into: a, alpha: alpha, beta: beta)
            }
        }
        guard assembled, StaticLUKernel.factor(n, ld, a, pivots, reciprocals) else { return nil }
        return StaticLUInMemory(n: n, ld: ld, a: a, pivots: pivots, reciprocals: reciprocals)
    }

    /// The factors already at `a` (a `W` factored by an earlier step and still current).
    @inlinable @inline(__always)
    static func factored(
        a: UnsafeMutablePointer<Double>, pivots: UnsafeMutablePointer<Int32>, reciprocals: UnsafeMutablePointer<Double>
    ) -> StaticLUInMemory {
        StaticLUInMemory(
            n: Column().scalarCount, ld: StaticLUKernel.leadingDimension(Column.self), a: a, pivots: pivots,
            reciprocals: reciprocals)
    }
}

extension DifferenceIncrements {
    /// `∂f/∂u` of a fixed-size right-hand side at `(t, u)` by forward (or, with
    /// ``central``, central) differences, for steps of size about `h`, with `fu = f(t, u)`:
    /// the increments, the rounding check and its retries of ``JacobianEvaluator``'s plain
    /// differences, operation for operation, so that both forms get the same `J`.
    @inlinable
    func jacobian<F: StaticODEFunction>(
        of f: F, _ p: F.Parameters, t: Double, u: F.State, fu: F.State, h: Double, tolerance: ErrorScale,
        stats: inout SolverStats
    ) -> F.State.SquareMatrix where F.State.Scalar == Double {
        let n = F.State().scalarCount
        var J = F.State.SquareMatrix()
        var squares = 0.0
        for i in 0..<n {
            let v = fu[i] / tolerance.scale(i, u[i], u[i])
            squares += v * v
        }
        let sigma0 = minimumIncrement(weightedSquares: squares, h: h, count: n)
        var perturbed = u
        for j in 0..<n {
            let x = u[j]
            let scale = tolerance.scale(j, x, x)
            let ceiling = self.ceiling(x, scale: scale)
            var inc = increment(x, scale: scale, minimum: sigma0)
            var retries = 0
            while true {
                let up = (x + inc) - x
                perturbed[j] = x + inc
                let fPlus = f(perturbed, p, t)
                stats.nf += 1
                var base = fu
                var denominator = up
                if central {
                    perturbed[j] = x - inc
                    base = f(perturbed, p, t)
                    stats.nf += 1
                    denominator = up + (x - (x - inc))
                }
                perturbed[j] = x
                var change = 0.0
                var magnitude = 0.0
                for i in 0..<n {
                    let d = Swift.abs(fPlus[i] - base[i])
                    if d > change {
                        change = d
                        magnitude = Swift.max(Swift.abs(fPlus[i]), Swift.abs(base[i]))
                    }
                }
                if retries < DifferenceIncrements.maxRetries && isRounding(change: change, magnitude: magnitude)
                    && inc * DifferenceIncrements.growth <= ceiling
                {
                    inc *= DifferenceIncrements.growth
                    retries += 1
                    continue
                }
                J[column: j] = (fPlus - base) * (1 / denominator)
                break
            }
        }
        return J
    }
}
