import DiffEqCore

/// Any native stepper of the delayed right-hand side, taking steps longer than a lag by
/// fixed-point iteration on the step's own interpolant (the unconstrained method of steps of
/// DelayDiffEq.jl; Bellen & Zennaro, *Numerical Methods for Delay Differential Equations*, 2003,
/// §4.2 "overlapping" and §5.2 on its convergence: for `h` above the smallest lag the stage values
/// read `u(t + c_i h − τ)` inside the step, an implicit equation in the step's continuous
/// extension, solved by iterating the step).
///
/// An attempt first runs the method with the history as it is (a read past the accepted steps
/// extrapolates the last step's polynomial). If no stage read past the accepted steps
/// (`DDEHistory.readAhead`), that attempt is the step and nothing else happens: steps no longer
/// than the smallest constant lag cost nothing more. Otherwise the attempt's interpolant becomes
/// the history's tentative step and the step is taken again from the same `(t, u)`, until two
/// successive end states differ by little in the solve's own error norm. The stopping rule is
/// the one for the simplified Newton iterations of implicit Runge-Kutta methods (Hairer & Wanner,
/// *Solving ODEs II*, §IV.8, (8.10)-(8.11)), as DelayDiffEq's `NLFunctional` uses it: with
/// `Δ_k` the scaled RMS norm of the change of the end state, the rate `θ_k = Δ_k/Δ_{k−1}` and
/// `η_k = θ_k/(1 − θ_k)`, stop when `η_k Δ_k ≤ κ`; the first iterate uses the last step's `η`.
/// A rate `θ ≥ 1` (divergence) or `maxIterations` iterates without meeting the rule rejects the
/// attempt with an error that makes the controller cut the step by its smallest factor; once
/// the step is no longer than the lag the iteration is not needed, so with constant lags only a
/// `dtmin` above the convergent step size can make it fail for good, and then the solve ends
/// with ``ReturnCode/convergenceFailure`` and a message saying where and by how much.
///
/// Stiff methods are wrapped the same way: their Newton iterations or linear solves treat the
/// `∂f/∂u(t)` block implicitly, the iteration here the values read inside the step. A delayed
/// term that is stiff on the step (`h·|∂f/∂u(t − τ)|` above about one) makes the iteration
/// diverge and the step shrink to where it converges (StiffDelayedTermTests: steps ~15 lags for
/// `1000·τ = 0.1`); the stage coupling (`DDEHistory.couplingStep`) does not lift that limit.
///
/// The wrapper also keeps the history reading the integrator's dense output in place (its
/// `appendDenseStep`); with `iterates: false` (the constrained method of steps) that is all it
/// does, each attempt being the method's own.
///
/// Performance: the previous end state and the tentative interpolant live in buffers made once
/// (the end state's by the first iteration);
/// an iterate costs one attempt of the method plus its dense output (the extra stages of a
/// lazy interpolant such as Vern's). The FSAL stage of the accepted step is the one computed
/// with the last tentative history, within `κ` of the converged one.
@usableFromInline
struct FixedPointStepper<Inner: ODEStepper, D: DDEFunction>: ODEStepper where Inner.Function == DelayedRHS<D> {
    @usableFromInline typealias Function = DelayedRHS<D>

    @usableFromInline var inner: Inner
    @usableFromInline let kappa: Double
    @usableFromInline let maxIterations: Int
    /// The smallest constant lag (`0` with state-dependent lags, which may be shorter than any
    /// step; infinity without lags): steps no longer than it need no stage coupling.
    @usableFromInline let shortestLag: Double
    /// Whether attempts iterate (off: constrained, an attempt is the inner method's).
    @usableFromInline let iterates: Bool
    @usableFromInline var previous: [Scalar]
    @usableFromInline var tentative: PiecewisePolynomial<Scalar>
    /// `η` of the last converged iteration (the first iterate's estimate of the rate).
    @usableFromInline var etaOld = 1.0
    /// Why the last attempt was rejected, when the iteration failed: `(t, h, Δ, iterates)`.
    @usableFromInline var lastFailure: (t: Double, h: Double, change: Double, iterates: Int)?
    /// Attempts rejected because the iteration did not converge (all steps).
    @usableFromInline var failures = 0

    /// Inlinable so that it specializes with the driver: compiled here only, it took `inner`
    /// and stored it through value witnesses (unspecialized copies of the whole stepper).
    @inlinable
    init(_ inner: Inner, count n: Int, kappa: Double, maxIterations: Int, shortestLag: Double, iterates: Bool = true) {
        self.inner = consume inner
        self.iterates = iterates
        self.shortestLag = shortestLag
        self.kappa = kappa
        self.maxIterations = maxIterations
        // Made by the first iteration (`attempt`): a solve whose steps stay within the lags
        // never iterates, and in a small problem's solve an allocation with its release costs
        // ~300-450 instructions (callgrind, Hutchinson).
        self.previous = []
        self.tentative = PiecewisePolynomial(stateCount: n)
    }

    @usableFromInline var name: String { inner.name }
    @usableFromInline var isAdaptive: Bool { inner.isAdaptive }
    @usableFromInline var order: Int { inner.order }
    @usableFromInline var controller: PIController { inner.controller }
    @usableFromInline var controllerOrder: Int { inner.controllerOrder }
    @usableFromInline var supportsMassMatrix: Bool { inner.supportsMassMatrix }
    @usableFromInline var stiffnessEstimate: Double { inner.stiffnessEstimate }
    @usableFromInline var stabilityBoundary: Double { inner.stabilityBoundary }

    @usableFromInline func validateSettings() throws(DiffEqError) { try inner.validateSettings() }

    @usableFromInline
    func explainFailure(_ code: ReturnCode) -> (code: ReturnCode, message: String)? {
        if let f = lastFailure {
            return (
                .convergenceFailure,
                "the fixed-point iteration on a step longer than a lag did not converge at t = \(f.t) with dt = \(f.h) "
                    + "(change \(f.change) in the error norm after \(f.iterates) iterates, \(failures) failed attempts "
                    + "in all): the delayed term is too stiff for this step; lower dtmin, or use "
                    + "MethodOfSteps(..., constrained: true) to keep steps within the smallest lag")
        }
        return inner.explainFailure(code)
    }

    @inlinable
    mutating func start(t: Double, u: [Scalar], du: [Scalar]) {
        inner.start(t: t, u: u, du: du)
    }

    /// The scaled RMS norm of `uNew − previous` (every component of a dual scalar counts, as in
    /// the step's error norm).
    @inlinable
    func change(u: [Scalar], uNew: [Scalar], tolerance: ErrorScale) -> Double {
        var sum = 0.0
        for i in uNew.indices {
            let w = 1 / tolerance.scale(i, u[i].primal, uNew[i].primal)
            sum += (uNew[i] - previous[i]).scaled(by: w).sumOfSquaredComponents
        }
        return ErrorScale.finish(sum, count: uNew.count, as: Scalar.self)
    }

    @inlinable
    mutating func attempt(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], uNew: inout [Scalar],
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        guard iterates else {
            return inner.attempt(f, p, t: t, dt: dt, u: u, uNew: &uNew, tolerance: tolerance, stats: &stats)
        }
        let history = f.history
        history.clearTentative()
        history.readAhead = false
        history.couplingStep = Swift.abs(dt) > shortestLag ? Swift.abs(dt) : 0
        history.beginIterate(first: true)
        lastFailure = nil
        var err = inner.attempt(f, p, t: t, dt: dt, u: u, uNew: &uNew, tolerance: tolerance, stats: &stats)
        guard history.readAhead, err.isFinite else { return err }
        var eta = etaOld
        var last = Double.nan
        var change = Double.nan
        var k = 0
        while k < maxIterations {
            k += 1
            if previous.count != uNew.count { previous = [Scalar](specializedRepeating: .zero, count: uNew.count) }
            for i in uNew.indices { previous[i] = uNew[i] }
            tentative.removeAll()
            inner.appendDenseStep(f, p, t: t, dt: dt, end: t + dt, u: u, uNew: uNew, to: &tentative, stats: &stats)
            history.setTentative(from: tentative)
            history.beginIterate(first: false)
            err = inner.attempt(f, p, t: t, dt: dt, u: u, uNew: &uNew, tolerance: tolerance, stats: &stats)
            guard err.isFinite else {
                history.clearTentative()
                return err
            }
            change = self.change(u: u, uNew: uNew, tolerance: tolerance)
            if change == 0 { break }
            if k > 1 {
                let theta = change / last
                if theta >= 1 { break }
                eta = theta / (1 - theta)
            }
            if eta * change <= kappa {
                // The tentative step stays until the driver appends the accepted one: the lazy
                // interpolant's extra stages (Vern) are evaluated after acceptance and read it.
                etaOld = eta
                return err
            }
            last = change
        }
        if change == 0 { return err }
        history.clearTentative()
        failures += 1
        lastFailure = (t, dt, change, k)
        // Large enough that every controller cuts by its smallest factor (qmin).
        return 1e8
    }

    @inlinable
    mutating func accept() { inner.accept() }

    @inlinable
    mutating func interpolate(
        _ f: Function, _ p: [Scalar], theta: Double, t: Double, dt: Double, u: [Scalar],
        uNew: [Scalar], into out: inout [Scalar], stats: inout SolverStats
    ) {
        inner.interpolate(f, p, theta: theta, t: t, dt: dt, u: u, uNew: uNew, into: &out, stats: &stats)
    }

    @inlinable
    mutating func prepareDenseStep(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], stats: inout SolverStats
    ) {
        inner.prepareDenseStep(f, p, t: t, dt: dt, u: u, stats: &stats)
    }

    /// The accepted step's append into the dense output the history holds: what may call `f`
    /// (reading the history, with any tentative step) first, then the history moves its steps
    /// into the integrator's dense output, the method appends in place, and the history takes
    /// them back with the new step.
    @inlinable
    mutating func appendDenseStep(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, end: Double, u: [Scalar], uNew: [Scalar],
        to dense: inout PiecewisePolynomial<Scalar>, stats: inout SolverStats
    ) {
        let history = f.history
        inner.prepareDenseStep(f, p, t: t, dt: dt, u: u, stats: &stats)
        history.lend(to: &dense)
        inner.appendDenseStep(f, p, t: t, dt: dt, end: end, u: u, uNew: uNew, to: &dense, stats: &stats)
        history.takeBack(from: &dense)
    }
}
