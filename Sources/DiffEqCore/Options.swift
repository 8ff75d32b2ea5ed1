/// Absolute tolerance: one value for every component, or one per component.
public enum AbsoluteTolerance: Sendable, Equatable, ExpressibleByFloatLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral
{
    case scalar(Double)
    case perComponent([Double])

    public init(floatLiteral value: Double) { self = .scalar(value) }
    public init(integerLiteral value: Int) { self = .scalar(Double(value)) }
    public init(arrayLiteral elements: Double...) { self = .perComponent(elements) }

    /// The tolerance of component `i`.
    @inlinable public subscript(i: Int) -> Double {
        switch self {
        case .scalar(let a): return a
        case .perComponent(let a): return a[i]
        }
    }
}

/// Where a solution is saved besides (or instead of) every step.
public enum SaveAt: Sendable, Equatable {
    /// `t0, t0 + Δ, t0 + 2Δ, ...` and the end of the span (Δ > 0, in the direction of
    /// integration).
    case every(Double)
    /// Exactly these times (in any order; they are sorted in the direction of integration).
    case times([Double])
}

/// A test of a candidate state, as `isoutofdomain(u, p, t)` in DifferentialEquations.jl: `true`
/// when `u` lies where the model is not defined (a negative concentration, say). `u` and `p` are
/// plain values (the primal parts when the solve runs on dual numbers).
///
/// A native integrator rejects a step whose new state fails the test and retries it with the
/// step times the controller's `qmin`, so that a solution which must stay in a domain does not
/// leave it between tolerance checks (ROBER at loose tolerances: a concentration crossing zero
/// turns into a blow-up that the error estimate alone accepts). When the step has shrunk to the
/// floor the solve ends with ``ReturnCode/dtLessThanMin``, never with a state outside.
public typealias DomainCheck = @Sendable (
    _ u: UnsafeBufferPointer<Double>, _ p: UnsafeBufferPointer<Double>, _ t: Double
) -> Bool

/// Options shared by every algorithm, named as in DifferentialEquations.jl.
public struct SolveOptions: Sendable {
    /// Relative tolerance (> 0).
    public var reltol: Double
    /// Absolute tolerance, scalar or per component (each > 0).
    public var abstol: AbsoluteTolerance
    /// Save points; `nil` saves according to ``saveEverystep``.
    public var saveat: SaveAt?
    /// With no `saveat`: save every accepted step (`true`) or only the start and the end.
    /// With `saveat`: also save every step (`false` by default then).
    public var saveEverystep: Bool?
    /// Keep what the method needs for `sol(t)` between saved points. Defaults to `true` when
    /// every step is saved and no `saveat` is given.
    public var dense: Bool?
    /// Initial step size (magnitude); `nil` chooses it automatically (Hairer-Wanner).
    public var dt: Double?
    /// Smallest step magnitude before the solve stops with ``ReturnCode/dtLessThanMin``.
    /// `nil` uses a bound from the floating-point resolution of `t`.
    public var dtmin: Double?
    /// Largest step magnitude; `nil` is the length of the span.
    public var dtmax: Double?
    /// Maximum number of steps (accepted and rejected) before ``ReturnCode/maxIters``.
    public var maxiters: Int
    /// Times the integrator must step onto exactly (discontinuities, events), in any order; a
    /// time given more than once is one stop. Times outside the span are ignored.
    public var tstops: [Double]
    /// `false` takes fixed steps of size `dt` even with an adaptive method (as `adaptive = false`
    /// in DifferentialEquations.jl; convergence studies use it).
    public var adaptive: Bool
    /// Rejects candidate states outside the model's domain (``DomainCheck``); native methods
    /// only (CVODE has no hook between its error test and accepting a step).
    public var isOutOfDomain: DomainCheck?
    /// The step-size controller, replacing the one tuned for the method (`nil`): an
    /// ``IController``, a ``PIController`` or a ``PIDController`` as a ``StepController``, for
    /// example `.pid(.h312PID)`. Native methods only (CVODE chooses its steps itself).
    public var controller: StepController?

    public init(
        reltol: Double = 1e-3, abstol: AbsoluteTolerance = 1e-6, saveat: SaveAt? = nil,
        saveEverystep: Bool? = nil, dense: Bool? = nil, dt: Double? = nil, dtmin: Double? = nil,
        dtmax: Double? = nil, maxiters: Int = 100_000, tstops: [Double] = [], adaptive: Bool = true,
        isOutOfDomain: DomainCheck? = nil, controller: StepController? = nil
    ) {
        self.reltol = reltol
        self.abstol = abstol
        self.saveat = saveat
        self.saveEverystep = saveEverystep
        self.dense = dense
        self.dt = dt
        self.dtmin = dtmin
        self.dtmax = dtmax
        self.maxiters = maxiters
        self.tstops = tstops
        self.adaptive = adaptive
        self.isOutOfDomain = isOutOfDomain
        self.controller = controller
    }
}
