import DiffEqCore

// `J = ∂f/∂u` of a fixed-size right-hand side, for the fixed-size stiff methods
// (StaticStiffLinearSystem, StaticSDIRKStepper): the sibling of JacobianEvaluator, which
// evaluates `J` for array states. One source of `J` per solve, chosen as the array form chooses
// it, and differences with the array form's increments, so that both forms get the same `J`.

/// Where a fixed-size stepper's `J` comes from, chosen once per solve as ``JacobianEvaluator``
/// chooses for arrays: under ``JacobianSource/automatic`` the function's analytic Jacobian when it
/// has one (``StaticODEFunction/hasAnalyticJacobian``), else forward-mode AD for the generic form
/// (``StaticModelRHS``: the model on nested duals, as ``GenericRHS`` in the array form), else
/// differences (forward, or central for ``JacobianSource/centralDifferences``).
@usableFromInline
struct StaticJacobian: Sendable {
    @usableFromInline let analytic: Bool
    @usableFromInline let forwardMode: Bool
    /// The difference increments and the error weights they are scaled to: the array form's
    /// (``DifferenceIncrements``).
    @usableFromInline let increments: DifferenceIncrements

    @inlinable
    init<F: StaticODEFunction>(_ source: JacobianSource, for f: F) {
        analytic = source == .automatic && f.hasAnalyticJacobian
        forwardMode = source == .automatic && !f.hasAnalyticJacobian && f.supportsForwardModeAD
        increments = DifferenceIncrements(uround: Double.ulpOfOne, central: source == .centralDifferences)
    }

    /// Differences need `f(t, u)` (``evaluate(_:_:t:u:fu:h:tolerance:stats:)``'s `fu`).
    @inlinable var usesDifferences: Bool { !analytic && !forwardMode }

    /// `J` at `(t, u)` for steps of size about `h`; `fu = f(t, u)` is read by differences only.
    /// Counts the evaluation in `stats` (`njacs`, and `njacsAD` or `njacsFiniteDifference`).
    @inlinable
    func evaluate<F: StaticODEFunction>(
        _ f: F, _ p: F.Parameters, t: Double, u: F.State, fu: F.State, h: Double, tolerance: ErrorScale,
        stats: inout SolverStats
    ) -> F.State.SquareMatrix {
        stats.njacs += 1
        if analytic { return f.jacobian(u, p, t) }
        if forwardMode {
            stats.njacsAD += 1
            return f.forwardModeJacobian(u, p, t)
        }
        stats.njacsFiniteDifference += 1
        return increments.jacobian(of: f, p, t: t, u: u, fu: fu, h: h, tolerance: tolerance, stats: &stats)
    }
}

extension DifferenceIncrements {
    /// `∂f/∂u` of a fixed-size right-hand side at `(t, u)` by forward (or, with ``central``,
    /// central) differences, for steps of size about `h`, with `fu = f(t, u)`: the increments,
    /// the rounding check and its retries of ``JacobianEvaluator``'s plain differences, operation
    /// for operation, so that both forms get the same `J`. The increments follow the values of a
    /// dual state (its partials are carried through `f`: the columns' partials are the
    /// differences' partials, as in the array form).
    @inlinable
    func jacobian<F: StaticODEFunction>(
        of f: F, _ p: F.Parameters, t: Double, u: F.State, fu: F.State, h: Double, tolerance: ErrorScale,
        stats: inout SolverStats
    ) -> F.State.SquareMatrix {
        typealias Scalar = F.State.Scalar
        let n = F.State().scalarCount
        var J = F.State.SquareMatrix()
        var squares = 0.0
        for i in 0..<n {
            let v = fu[i].primal / tolerance.scale(i, u[i].primal, u[i].primal)
            squares += v * v
        }
        let sigma0 = minimumIncrement(weightedSquares: squares, h: h, count: n)
        var perturbed = u
        for j in 0..<n {
            // The increments' arithmetic on the values, as JacobianEvaluator's for any scalar.
            let uj = u[j]
            let x = uj.primal
            let scale = tolerance.scale(j, x, x)
            let ceiling = self.ceiling(x, scale: scale)
            var inc = increment(x, scale: scale, minimum: sigma0)
            var retries = 0
            while true {
                let up = (uj + Scalar(inc)).primal - x
                perturbed[j] = uj + Scalar(inc)
                let fPlus = f(perturbed, p, t)
                stats.nf += 1
                var base = fu
                var denominator = up
                if central {
                    perturbed[j] = uj - Scalar(inc)
                    base = f(perturbed, p, t)
                    stats.nf += 1
                    denominator = up + (x - (uj - Scalar(inc)).primal)
                }
                perturbed[j] = uj
                var change = 0.0
                var magnitude = 0.0
                for i in 0..<n {
                    let a = fPlus[i].primal
                    let b = base[i].primal
                    let d = Swift.abs(a - b)
                    if d > change {
                        change = d
                        magnitude = Swift.max(Swift.abs(a), Swift.abs(b))
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
