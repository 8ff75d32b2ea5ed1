/// A step-size controller: the factor by which an adaptive integrator changes `dt` after an
/// accepted step (from the scaled error norm and the errors of the steps before it) and after a
/// rejected one.
///
/// Every native method keeps the controller tuned for it (``ODEStepper/controller``, a
/// ``PIController``); a solve takes another one through ``SolveOptions/controller``, as a
/// ``StepController`` value holding an ``IController``, a ``PIController`` or a
/// ``PIDController``. The integrators hold that enum, never an existential, so the step loop
/// stays specialized and allocation-free.
///
/// The error history is kept by the integrator as logarithms (``ControllerHistory``): one `log`
/// per accepted step, whatever the controller.
public protocol StepSizeController: Sendable {
    /// Checks the coefficients before any work; a controller that cannot work throws
    /// ``DiffEqError/invalidController(_:)``.
    func validate() throws(DiffEqError)

    /// The smallest factor by which one step may shrink `dt` (what a rejection for leaving the
    /// domain uses, `isOutOfDomain`).
    var minimumFactor: Double { get }

    /// The factor to multiply `dt` by after an accepted step whose error is `err`, with `logErr`
    /// = `log(max(err, 1e-10))` and the errors of the steps before in `history`; `order` is the
    /// method's controller order `k` (``ODEStepper/controllerOrder``).
    func acceptedFactor(err: Double, logErr: Double, history: ControllerHistory, order: Int) -> Double

    /// The factor (< 1) to multiply `dt` by after an attempt rejected with error `err` (> 1).
    func rejectedFactor(err: Double, order: Int) -> Double
}

/// The errors of the last two accepted steps, as `log(max(err, 1e-4))`: a step with a tiny
/// error says little about the next one. A fresh start (and a restart after an event or a
/// change of state from outside) remembers `1e-4` for both.
public struct ControllerHistory: Sendable, Equatable {
    /// `log` of the previous accepted step's error.
    public var logErrPrev: Double
    /// `log` of the error of the accepted step before that (only the PID controller reads it).
    public var logErrPrevPrev: Double

    @inlinable public init(logErrPrev: Double, logErrPrevPrev: Double) {
        self.logErrPrev = logErrPrev
        self.logErrPrevPrev = logErrPrevPrev
    }

    /// The history of a fresh start.
    @inlinable public static var fresh: ControllerHistory {
        ControllerHistory(logErrPrev: PIController.logErrorFloor, logErrPrevPrev: PIController.logErrorFloor)
    }

    /// Moves the history on after a step accepted with error `err` (`logErr` its logarithm
    /// floored at 1e-10, as the controllers take it).
    @inlinable @inline(__always)
    public mutating func record(err: Double, logErr: Double) {
        logErrPrevPrev = logErrPrev
        logErrPrev = err >= 1e-4 ? logErr : PIController.logErrorFloor
    }
}

extension StepSizeController {
    /// The step-size update after an accepted step of size `h` with error `err`: the factor (at
    /// most 1 right after a rejection), the history moved on, and the next `dt` (the previous
    /// `dt` kept when the step was clipped to land on a stop), capped at `dtmax`. The same rule
    /// as ``PIController/update(afterAccepting:step:landing:afterRejection:dt:logErrPrev:direction:dtmax:)``.
    @inlinable @inline(__always)
    public func update(
        afterAccepting err: Double, step h: Double, landing: Bool, afterRejection: Bool, dt: inout Double,
        history: inout ControllerHistory, order: Int, direction: Double, dtmax: Double
    ) {
        let logErr = Double.log(Swift.max(err, 1e-10))
        var q = acceptedFactor(err: err, logErr: logErr, history: history, order: order)
        if afterRejection { q = Swift.min(q, 1) }
        history.record(err: err, logErr: logErr)
        let base = landing && Swift.abs(h) < Swift.abs(dt) ? dt : h * q
        dt = direction * Swift.min(Swift.abs(base), dtmax)
    }
}

/// Checks shared by the controllers: a message for the first coefficient that is not finite.
@usableFromInline
func firstNonFinite(_ values: KeyValuePairs<String, Double>) -> String? {
    for (name, value) in values where !value.isFinite { return "\(name) is \(value); it must be finite" }
    return nil
}

/// `0 < safety ≤ 1`.
@usableFromInline
func checkSafety(_ safety: Double) throws(DiffEqError) {
    guard safety.isFinite, safety > 0, safety <= 1 else {
        throw .invalidController("safety must lie in (0, 1], got \(safety)")
    }
}

/// `0 < safety ≤ 1` and the bounds `0 < qmin ≤ 1 ≤ qmax` on the factor of one step.
@usableFromInline
func checkBounds(safety: Double, qmin: Double, qmax: Double) throws(DiffEqError) {
    try checkSafety(safety)
    guard !qmin.isNaN, !qmax.isNaN else { throw .invalidController("qmin (\(qmin)) and qmax (\(qmax)) must be numbers") }
    guard qmin <= qmax else { throw .invalidController("qmin (\(qmin)) is above qmax (\(qmax))") }
    guard qmin > 0, qmin <= 1 else { throw .invalidController("qmin must lie in (0, 1], got \(qmin)") }
    guard qmax >= 1 else { throw .invalidController("qmax must be >= 1, got \(qmax)") }
}

extension PIController: StepSizeController {
    /// The gains `β1`, `β2` are the method's own (already divided by its order), so `order` is
    /// not read: the factor is ``acceptedFactor(logErr:logPrevious:)``, bit for bit the tuned path.
    @inlinable
    public func acceptedFactor(err: Double, logErr: Double, history: ControllerHistory, order: Int) -> Double {
        acceptedFactor(logErr: logErr, logPrevious: history.logErrPrev)
    }

    @inlinable
    public func rejectedFactor(err: Double, order: Int) -> Double { rejectedFactor(err: err) }

    @inlinable public var minimumFactor: Double { qmin }

    public func validate() throws(DiffEqError) {
        if let why = firstNonFinite(["beta1": beta1, "beta2": beta2]) { throw .invalidController(why) }
        guard beta1 > 0 else { throw .invalidController("beta1 must be > 0 (the step must shrink when the error grows), got \(beta1)") }
        try checkBounds(safety: safety, qmin: qmin, qmax: qmax)
    }
}

/// The controller a solve uses instead of its method's tuned one (``SolveOptions/controller``):
/// one of the three controllers as a value, so that the integrators switch over a closed set
/// instead of calling through an existential.
public enum StepController: StepSizeController, Equatable {
    /// The elementary (integral) controller, ``IController``.
    case integral(IController)
    /// Gustafsson's PI controller with explicit gains, ``PIController``.
    case proportionalIntegral(PIController)
    /// Söderlind's digital-filter (PID) controller, ``PIDController``.
    case pid(PIDController)

    @inlinable
    public func acceptedFactor(err: Double, logErr: Double, history: ControllerHistory, order: Int) -> Double {
        switch self {
        case .integral(let c): return c.acceptedFactor(err: err, logErr: logErr, history: history, order: order)
        case .proportionalIntegral(let c): return c.acceptedFactor(err: err, logErr: logErr, history: history, order: order)
        case .pid(let c): return c.acceptedFactor(err: err, logErr: logErr, history: history, order: order)
        }
    }

    @inlinable
    public func rejectedFactor(err: Double, order: Int) -> Double {
        switch self {
        case .integral(let c): return c.rejectedFactor(err: err, order: order)
        case .proportionalIntegral(let c): return c.rejectedFactor(err: err, order: order)
        case .pid(let c): return c.rejectedFactor(err: err, order: order)
        }
    }

    @inlinable
    public var minimumFactor: Double {
        switch self {
        case .integral(let c): return c.minimumFactor
        case .proportionalIntegral(let c): return c.minimumFactor
        case .pid(let c): return c.minimumFactor
        }
    }

    public func validate() throws(DiffEqError) {
        switch self {
        case .integral(let c): try c.validate()
        case .proportionalIntegral(let c): try c.validate()
        case .pid(let c): try c.validate()
        }
    }
}
