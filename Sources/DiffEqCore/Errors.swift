/// Invalid input, reported before any work is done.
public enum DiffEqError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The time span is empty (`t0 == t1`) or not finite, or an integrator was restarted
    /// (`reinit(t0:)`) at a time outside its problem's span or at its end.
    case invalidTimeSpan(t0: Double, t1: Double)
    /// `reltol` is not a positive finite number.
    case invalidRelativeTolerance(Double)
    /// An absolute tolerance is not a positive finite number.
    case invalidAbsoluteTolerance(component: Int, value: Double)
    /// A per-component `abstol` (or another per-component input) has the wrong length.
    case dimensionMismatch(what: String, expected: Int, got: Int)
    /// The initial state has a NaN or infinite component.
    case nonFiniteInitialState(component: Int)
    /// A `saveat` time lies outside the time span, or a `saveat` step is not positive and
    /// finite or gives too many points (10⁸ or more) over the span.
    case invalidSaveAt(String)
    /// `dt`, `dtmin`, `dtmax` or `maxiters` is out of range, `adaptive: false` is given without
    /// `dt`, the mass matrix has a non-finite entry, or a ``GlobalErrorControl`` setting is out
    /// of range.
    case invalidStepOption(String)
    /// A step-size controller's coefficient is not finite or out of range (``SolveOptions/controller``).
    case invalidController(String)
    /// The state is empty.
    case emptyState
    /// The algorithm cannot solve this problem (for example a scalar type it does not support).
    case unsupported(String)

    public var description: String {
        switch self {
        case .invalidTimeSpan(let t0, let t1):
            return "invalid time span (\(t0), \(t1)): it must be finite and non-empty"
                + " (a restart time must lie inside the problem's span, before its end)"
        case .invalidRelativeTolerance(let r):
            return "reltol must be a positive finite number, got \(r)"
        case .invalidAbsoluteTolerance(let i, let a):
            return "abstol[\(i)] must be a positive finite number, got \(a)"
        case .dimensionMismatch(let what, let expected, let got):
            return "\(what) has length \(got), expected \(expected)"
        case .nonFiniteInitialState(let i):
            return "u0[\(i)] is not finite"
        case .invalidSaveAt(let why):
            return "invalid saveat: \(why)"
        case .invalidStepOption(let why):
            return "invalid step option: \(why)"
        case .invalidController(let why):
            return "invalid step-size controller: \(why)"
        case .emptyState:
            return "the state u0 is empty"
        case .unsupported(let why):
            return "unsupported: \(why)"
        }
    }
}

/// Why a solve stopped. A solve that fails part way keeps what it computed.
public enum ReturnCode: Sendable, Equatable, CustomStringConvertible {
    /// The integration has not finished (an integrator being stepped by hand).
    case `default`
    /// Reached the end of the time span.
    case success
    /// Stopped early on purpose (a terminating callback).
    case terminated
    /// Took `maxiters` steps before reaching the end. Common causes: a stiff problem given to a
    /// non-stiff method, a tolerance too tight for the span, a limit set too low.
    case maxIters
    /// The step size fell below `dtmin`. Common causes: a singularity or blow-up in the
    /// solution, a discontinuity in `f` not declared as a `tstop`, stiffness.
    case dtLessThanMin
    /// `f` returned NaN or Inf (or the state became non-finite, or `f` changed the length of
    /// `du`) and no smaller step avoided it.
    /// Common causes: a solution that blows up, a domain error (`log` of a negative number).
    case unstable
    /// An implicit method's nonlinear or linear solve failed repeatedly (for example a
    /// singular iteration matrix).
    case convergenceFailure
    /// Any other failure: one reported by an external integrator (CVODE), or a misuse the
    /// native integrator can only detect during the solve (a callback condition returning NaN,
    /// an affect or integrator setter changing the length of `u`, an invalid `dt` set on the
    /// integrator). The solution's `message` says why.
    case failure
    /// ``GlobalErrorControl`` reached the end of the span but its global error estimate stayed
    /// above the tolerance within its solve budget (or at its tolerance floor). The solution is
    /// the most accurate one computed; `globalErrorEstimate` and `message` say how far off.
    case globalToleranceNotMet

    /// `true` for ``success`` and ``terminated``.
    public var isSuccessful: Bool { self == .success || self == .terminated }

    public var description: String {
        switch self {
        case .default: return "Default"
        case .success: return "Success"
        case .terminated: return "Terminated"
        case .maxIters: return "MaxIters"
        case .dtLessThanMin: return "DtLessThanMin"
        case .unstable: return "Unstable"
        case .convergenceFailure: return "ConvergenceFailure"
        case .failure: return "Failure"
        case .globalToleranceNotMet: return "GlobalToleranceNotMet"
        }
    }
}
