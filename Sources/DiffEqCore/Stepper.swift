/// One method family's step, plugged into the shared ``ODEIntegrator`` loop.
///
/// The integrator owns time, the state, saving, step-size control and failure handling; a
/// stepper owns its stage caches and knows how to take one step, estimate its error and
/// interpolate inside it. Steppers allocate their caches in their initialiser; `attempt`,
/// `accept` and `interpolate` must not allocate.
///
/// A stepper is written for one state form: `Function` is an ``ODEFunction`` (array states, `p`
/// an array) or a ``StaticODEFunction`` (fixed-size states, returned by value); the loop is the
/// same for both (DESIGN.md, "The state protocol").
public protocol ODEStepper {
    associatedtype Function: DiffEqFunction
    typealias State = Function.State
    typealias Parameters = Function.Parameters
    typealias Scalar = Function.State.Scalar

    /// The algorithm name reported on the solution.
    var name: String { get }
    /// Whether `attempt` returns a meaningful error estimate (fixed-step methods return 0).
    var isAdaptive: Bool { get }
    /// Order of the propagated solution (used for the automatic initial step).
    var order: Int { get }
    /// The step-size controller tuned for this method (a solve's ``SolveOptions/controller``
    /// replaces it).
    var controller: PIController { get }
    /// The order `k` in the exponents of the I and PID controllers: the error estimate behaves
    /// as `h^k`, `k = min(p, p̂) + 1` for an embedded pair of orders `p`, `p̂`. Defaults to
    /// ``order``.
    var controllerOrder: Int { get }
    /// Whether the method solves `M du/dt = f` with a (possibly singular) mass matrix.
    var supportsMassMatrix: Bool { get }
    /// An estimate of the magnitude of the dominant eigenvalue of `∂f/∂u` from the last accepted
    /// step (NaN when the method keeps none): what stiffness-switching algorithms compare with
    /// the method's stability region.
    var stiffnessEstimate: Double { get }
    /// How far the method's stability region reaches along the negative real axis (`|z|` at its
    /// boundary); infinity for A-stable methods.
    var stabilityBoundary: Double { get }

    /// Called when the integration is about to stop because the step size collapsed
    /// (``ReturnCode/dtLessThanMin`` or ``ReturnCode/unstable``): a method whose implicit stages
    /// kept failing (Newton divergence, a singular iteration matrix) returns the more specific
    /// code (``ReturnCode/convergenceFailure``) and a message saying why; `nil` keeps the
    /// integrator's own.
    func explainFailure(_ code: ReturnCode) -> (code: ReturnCode, message: String)?

    /// Checks the method's own settings (an implicit method's Newton options, a switching
    /// method's thresholds) before any work: ``ODEIntegrator``'s initializer calls it after the
    /// solve options are validated and before `f` is first evaluated, so every native `solve`
    /// and `makeIntegrator` (each builds an ``ODEIntegrator``) refuses a bad setting with a
    /// thrown error instead of trapping or failing with a misleading message part way. The
    /// default accepts (a method with no settings of its own).
    func validateSettings() throws(DiffEqError)

    /// Called once by ``ODEIntegrator``'s initializer, before ``start(t:u:du:)``, with the solve's
    /// error weights (a fixed-size stepper keeps the absolute tolerances as a state). The default
    /// does nothing.
    mutating func configure(tolerance: ErrorScale)

    /// Called before the first step (and after the state is changed from outside) with
    /// `f(t, u)` already evaluated, so FSAL methods can reuse it.
    mutating func start(t: Double, u: State, du: State)

    /// Attempts a step of signed size `dt` from `(t, u)`: writes the proposal into `uNew` and
    /// returns the scaled RMS error norm (≤ 1 means acceptable; 0 for fixed-step methods;
    /// NaN or infinity when `f` produced non-finite values).
    mutating func attempt(
        _ f: Function, _ p: Parameters, t: Double, dt: Double, u: State, uNew: inout State,
        tolerance: ErrorScale, stats: inout SolverStats) -> Double

    /// The last attempted step was accepted.
    mutating func accept()

    /// Writes the method's dense output at `t + theta*dt` of the last accepted step (from `u`
    /// at `t` to `uNew` at `t + dt`) into `out`.
    mutating func interpolate(
        _ f: Function, _ p: Parameters, theta: Double, t: Double, dt: Double, u: State,
        uNew: State, into out: inout State, stats: inout SolverStats)

    /// Does the part of ``appendDenseStep(_:_:t:dt:end:u:uNew:to:stats:)`` for the last accepted
    /// step that may call `f` (a lazy interpolant's extra stages, Vern's), so that the append
    /// which follows calls no `f`. A caller whose `f` reads the dense output being appended to (a
    /// delay equation's history, which holds it between appends) hands it over between the two,
    /// and the append writes in place. The append stays complete on its own: without this call
    /// it does the same work itself. Default: nothing (the method's append calls no `f`).
    mutating func prepareDenseStep(
        _ f: Function, _ p: Parameters, t: Double, dt: Double, u: State, stats: inout SolverStats)

    /// Appends the method's interpolant of the last accepted step (from `u` at `t` to `uNew` at
    /// `t + dt`) to `dense`, covering `t` to `end` (`end` is `t + dt`, or an event's time inside
    /// the step when the event cut it short). The dense output grows step by step, so the past
    /// can be read during the solve (``ODEIntegrator/interpolate(at:into:)``).
    mutating func appendDenseStep(
        _ f: Function, _ p: Parameters, t: Double, dt: Double, end: Double, u: State, uNew: State,
        to dense: inout PiecewisePolynomial<Scalar>, stats: inout SolverStats)
}

extension ODEStepper {
    public var controllerOrder: Int { order }
    public var supportsMassMatrix: Bool { false }
    public var stiffnessEstimate: Double { .nan }
    public var stabilityBoundary: Double { .infinity }
    public func explainFailure(_ code: ReturnCode) -> (code: ReturnCode, message: String)? { nil }
    public func validateSettings() throws(DiffEqError) {}
    public mutating func configure(tolerance: ErrorScale) {}
    @inlinable
    public mutating func prepareDenseStep(
        _ f: Function, _ p: Parameters, t: Double, dt: Double, u: State, stats: inout SolverStats
    ) {}
}

/// The error weight of one component, `abstol + reltol·max(|a|, |b|)` for the states `a`, `b` at
/// a step's two ends (the denominator of SciMLBase's `calculate_residuals`; HNW I §II.4, (4.10)):
/// the one place it is written. ``ErrorScale``, the fixed-size loops' error norms, the initial
/// step, and the comparisons of two solutions (global error control, the adjoints' drift) all
/// call it.
@inlinable @inline(__always)
public func errorWeight(abstol: Double, reltol: Double, _ a: Double, _ b: Double) -> Double {
    abstol + reltol * Swift.max(Swift.abs(a), Swift.abs(b))
}

/// ``errorWeight(abstol:reltol:_:_:)`` for one state: `abstol + reltol·|a|` (bit for bit, as
/// `max(|a|, |a|) = |a|`).
@inlinable @inline(__always)
public func errorWeight(abstol: Double, reltol: Double, _ a: Double) -> Double {
    errorWeight(abstol: abstol, reltol: reltol, a, a)
}

/// Per-component error weights `1 / (abstol_i + reltol * max(|u_i|, |uNew_i|))`, and the RMS
/// norm every native method uses (one place, as SciMLBase's `calculate_residuals`).
public struct ErrorScale: Sendable {
    public let reltol: Double
    public let abstol: [Double]

    @inlinable public init(reltol: Double, abstol: [Double]) {
        self.reltol = reltol
        self.abstol = abstol
    }

    /// The tolerance scale of component `i` given the states at both ends of the step.
    @inlinable @inline(__always)
    public func scale(_ i: Int, _ a: Double, _ b: Double) -> Double {
        errorWeight(abstol: abstol[i], reltol: reltol, a, b)
    }

    /// RMS norm over value and derivative components: `sqrt(sum(err²/sc²) / (n·m))`, with `m`
    /// the number of components per scalar (DESIGN.md §4).
    @inlinable @inline(__always)
    public static func finish<S: DiffEqScalar>(_ sumSquares: Double, count n: Int, as: S.Type) -> Double {
        (sumSquares / Double(n * S.componentCount)).squareRoot()
    }
}

/// Gustafsson's PI step-size controller: `dt_new = dt · γ / (err^β1 / errPrev^β2)`, clamped to
/// `[qmin, qmax]` times the old step. K. Gustafsson, "Control theoretic techniques for stepsize
/// selection in explicit Runge-Kutta methods", ACM TOMS 17 (1991) 533-554; HNW II §IV.2.
public struct PIController: Sendable, Equatable {
    public var beta1: Double
    public var beta2: Double
    /// Safety factor γ.
    public var safety: Double
    /// Smallest and largest factor by which one step may change the step size.
    public var qmin: Double
    public var qmax: Double

    public init(beta1: Double, beta2: Double, safety: Double = 0.9, qmin: Double = 0.2, qmax: Double = 10) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.safety = safety
        self.qmin = qmin
        self.qmax = qmax
    }

    /// The gains `β1 = 0.7/k`, `β2 = 0.4/k` (integral gain 0.3/k plus proportional gain 0.4/k)
    /// for a method whose step-control order is `k`.
    public static func standard(order k: Int) -> PIController {
        PIController(beta1: 0.7 / Double(k), beta2: 0.4 / Double(k))
    }

    /// A controller that never changes the step (fixed-step methods).
    public static let fixed = PIController(beta1: 0, beta2: 0, safety: 1, qmin: 1, qmax: 1)

    /// The factor to multiply `dt` by after an accepted step with error `err`, given the
    /// previous accepted error.
    @inlinable
    public func acceptedFactor(err: Double, previous: Double) -> Double {
        acceptedFactor(logErr: Double.log(Swift.max(err, 1e-10)), logPrevious: Double.log(previous))
    }

    /// ``acceptedFactor(err:previous:)`` from `log(max(err, 1e-10))` and `log(previous)`: an
    /// integrator that keeps the logarithm of the last error pays one `log` and one `exp` per
    /// step instead of two `log`s and an `exp` (same result, bit for bit).
    @inlinable
    public func acceptedFactor(logErr: Double, logPrevious: Double) -> Double {
        // q = err^β1 / errPrev^β2, as one exp of logs (cheaper than two pow calls).
        let q = Double.exp(beta1 * logErr - beta2 * logPrevious)
        return Swift.min(qmax, Swift.max(qmin, safety / q))
    }

    /// `log(1e-4)`: the floor of the remembered error (a step with a tiny error says little
    /// about the next one), and the history of a fresh start.
    @inlinable public static var logErrorFloor: Double { Double.log(1e-4) }

    /// The step-size update after an accepted step of size `h` with error `err`, shared by the
    /// adaptive loops (``ODEIntegrator`` and the fixed-size integrator): the PI factor (at most 1
    /// right after a rejection), the error history `logErrPrev` moved on, and the next `dt`
    /// (a step clipped to land on a stop says nothing about the natural step, so the previous
    /// `dt` is kept then), capped at `dtmax`.
    @inlinable @inline(__always)
    public func update(
        afterAccepting err: Double, step h: Double, landing: Bool, afterRejection: Bool, dt: inout Double,
        logErrPrev: inout Double, direction: Double, dtmax: Double
    ) {
        let logErr = Double.log(Swift.max(err, 1e-10))
        var q = acceptedFactor(logErr: logErr, logPrevious: logErrPrev)
        if afterRejection { q = Swift.min(q, 1) }
        // log(max(err, 1e-4)), from the log just taken.
        logErrPrev = err >= 1e-4 ? logErr : PIController.logErrorFloor
        let base = landing && Swift.abs(h) < Swift.abs(dt) ? dt : h * q
        dt = direction * Swift.min(Swift.abs(base), dtmax)
    }

    /// The factor to shrink `dt` by after a rejected step with error `err` (> 1).
    @inlinable
    public func rejectedFactor(err: Double) -> Double {
        Swift.max(qmin, safety / _pow(err, beta1))
    }
}

@usableFromInline func _pow(_ x: Double, _ y: Double) -> Double { Double.pow(x, y) }

/// The step to attempt from `t` with the current `dt`: clipped to `target` (the next stop or the
/// end of the span) when it would reach or pass it, so that steps land on stops exactly.
///
/// "Reach" allows for rounding: after `steps` accepted steps, `t` carries up to `steps` rounding
/// errors of half an ulp each (one per addition of a step), and `dt = T/N` itself is rounded, so
/// the distance left before the last of `N` equal steps can exceed `dt` by several ulps of `t`.
/// A step that falls short of the target by no more than `steps + 1` ulps of `max(|t|, |target|)`
/// (or `1e-12·|dt|`) lands on it, instead of leaving a last step of a few ulps: a fixed-step solve
/// with `dt = T/N` takes `N` steps, not `N + 1`. OrdinaryDiffEq snaps `t` onto a stop within a
/// fixed `100·eps(max(t, tstop))` (`fixed_t_for_floatingpoint_error!` in OrdinaryDiffEqCore's
/// integrator utilities), which leaves the tiny extra step from a few hundred steps on; the
/// window here grows with the number of additions that could have drifted, and stays below 1 %
/// of `dt`, so that a step is never lengthened by more than that.
@inlinable @inline(__always)
public func clippedStep(from t: Double, dt: Double, toward target: Double, direction: Double, steps: Int = 0)
    -> (h: Double, landing: Bool)
{
    let magnitude = Swift.abs(dt)
    let gap = direction * (t + dt - target)
    // The window lies between 1e-12·|dt| and 0.01·|dt|: outside that band the answer is known
    // without the ulp, which costs ~30 instructions per step (callgrind, Lorenz Tsit5); the
    // result is the full rule's in every case, NaN included.
    if gap >= -1e-12 * magnitude { return (target - t, true) }
    if gap < -0.01 * magnitude { return (dt, false) }
    let drift = Swift.min(Double(steps + 1) * Swift.max(Swift.abs(t), Swift.abs(target)).ulp, 0.01 * magnitude)
    if gap >= -Swift.max(1e-12 * magnitude, drift) { return (target - t, true) }
    return (dt, false)
}

/// The rejection rule shared by ``ODEIntegrator`` and the fixed-size integrator, after an
/// attempt of size `h` from `t` that was not accepted (`nonFinite`: it produced NaN or Inf).
/// Returns the next step size and, when the integration must end instead, why.
///
/// A non-finite attempt is retried with a tenth of the step: it may be a blow-up the method
/// stepped over, or a genuine singularity; a fixed-step method cannot shrink its step, so it
/// ends as ``ReturnCode/unstable``. An attempt over the tolerance is retried with the
/// controller's factor (`order`: the method's ``ODEStepper/controllerOrder``). Either way a step below `dtFloor` ends the integration, as unstable
/// when a non-finite value was seen in this step's attempts (`sawNonFinite`), else as
/// ``ReturnCode/dtLessThanMin``. Counts the rejection in `stats`.
@inlinable
public func rejectAttempt<Controller: StepSizeController>(
    h: Double, err: Double, nonFinite: Bool, sawNonFinite: Bool, adaptive: Bool, controller: Controller,
    order: Int, t: Double, dtFloor: Double, stats: inout SolverStats
) -> (dt: Double, failure: (ReturnCode, String)?) {
    stats.nreject += 1
    if nonFinite {
        let dt = h * 0.1
        if !adaptive || Swift.abs(dt) < dtFloor {
            return (dt, (.unstable, "f returned NaN or Inf (or changed the length of du) near t = \(t) and reducing dt did not avoid it"))
        }
        return (dt, nil)
    }
    let dt = h * controller.rejectedFactor(err: err, order: order)
    if Swift.abs(dt) < dtFloor {
        return (dt, (sawNonFinite ? .unstable : .dtLessThanMin, "step size \(Swift.abs(dt)) fell below dtmin \(dtFloor) at t = \(t)"))
    }
    return (dt, nil)
}

/// The trial step of the automatic initial step (Hairer, Nørsett & Wanner, Solving ODEs I,
/// §II.4, "Starting step size", steps a-b): `0.01 d0/d1` from the scaled norms `d0` of `u0`
/// and `d1` of `f(t0, u0)`, `1e-6` when either is tiny (or the quotient is not finite), at most
/// `dtmax`.
@inlinable
public func initialTrialStep(d0: Double, d1: Double, dtmax: Double) -> Double {
    var h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1
    h0 = Swift.min(h0, dtmax)
    return h0.isFinite ? h0 : 1e-6
}

/// The starting step from the trial step `h0` (the same reference, steps d-f): `d2` is the
/// scaled norm of the difference quotient `(f(t0 + h0, u0 + h0 f0) − f0)/h0`, and the step
/// makes `max(d1, d2) h^(p+1) = 0.01` for a method of order `order`; at most `100 h0` and
/// `dtmax`.
@inlinable
public func initialStep(h0: Double, d1: Double, d2: Double, order: Int, dtmax: Double) -> Double {
    let dmax = Swift.max(d1, d2)
    var h1: Double
    if !dmax.isFinite {
        h1 = h0 * 1e-3
    } else if dmax <= 1e-15 {
        h1 = Swift.max(1e-6, h0 * 1e-3)
    } else {
        h1 = Double.pow(0.01 / dmax, 1.0 / Double(order + 1))
    }
    return Swift.min(100 * h0, h1, dtmax)
}

/// The smallest step magnitude allowed at time `t`: the user's `dtmin`, and never below what
/// the floating-point resolution of `t` can represent.
@inlinable @inline(__always)
public func stepFloor(at t: Double, dtmin: Double) -> Double {
    Swift.max(dtmin, 4 * Swift.abs(t).ulp, 4 * Double.leastNormalMagnitude)
}
