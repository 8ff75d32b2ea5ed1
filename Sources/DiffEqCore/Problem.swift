/// An initial-value problem `du/dt = f(u, p, t)`, `u(t0) = u0`, `t` in `tspan`.
///
/// `u0` may be a function of `(p, t0)` and `tspan` a function of `p`; they are evaluated by
/// ``resolvedInitialState()`` and ``resolvedTimeSpan()`` (what `solve` does before any work).
/// `tspan.1 < tspan.0` integrates backward in time.
///
/// ```swift
/// let prob = ODEProblem(
///     f: { du, u, p, t in du[0] = p[0] * u[0] },
///     u0: [1.0], tspan: (0, 1), p: [-0.5])
/// let sol = try solve(prob, Tsit5())
/// ```
public struct ODEProblem<F: ODEFunction> {
    public typealias Scalar = F.Scalar
    public typealias InitialState = @Sendable ([Scalar], Double) -> [Scalar]
    public typealias TimeSpan = (Double, Double)
    /// A time span computed from the parameters (`tspan(p)`).
    public typealias TimeSpanFunction = @Sendable ([Scalar]) -> TimeSpan

    public var f: F
    public var p: [Scalar]
    /// Events handled by every native method (and CVODE's root-finding for continuous ones).
    public var callbacks = CallbackSet<Scalar>()
    /// A constant mass matrix `M` for `M du/dt = f(u, p, t)`, column-major `n x n`; `nil` is the
    /// identity. A singular `M` makes the problem an index-1 DAE (rows of zeros are algebraic
    /// equations). Only methods that document mass-matrix support accept one (the Rosenbrock
    /// methods); the others throw ``DiffEqError/unsupported(_:)``.
    public var massMatrix: [Double]?
    @usableFromInline var u0Spec: U0Spec
    @usableFromInline var tspanSpec: TspanSpec

    @usableFromInline enum U0Spec: Sendable {
        case value([Scalar])
        case function(InitialState)
    }
    @usableFromInline enum TspanSpec: Sendable {
        case value(TimeSpan)
        case function(TimeSpanFunction)
    }

    /// A problem with a fixed initial state and time span.
    public init(_ f: F, u0: [Scalar], tspan: TimeSpan, p: [Scalar] = []) {
        self.f = f
        self.p = p
        self.u0Spec = .value(u0)
        self.tspanSpec = .value(tspan)
    }

    /// A problem whose initial state is `u0(p, t0)` and, optionally, whose time span is
    /// `tspan(p)`.
    public init(
        _ f: F, u0: @escaping InitialState, tspan: @escaping TimeSpanFunction, p: [Scalar]
    ) {
        self.f = f
        self.p = p
        self.u0Spec = .function(u0)
        self.tspanSpec = .function(tspan)
    }

    /// A problem whose initial state is `u0(p, t0)` on a fixed time span.
    public init(_ f: F, u0: @escaping InitialState, tspan: TimeSpan, p: [Scalar]) {
        self.f = f
        self.p = p
        self.u0Spec = .function(u0)
        self.tspanSpec = .value(tspan)
    }

    /// The time span, evaluated at the current parameters.
    @inlinable
    public func resolvedTimeSpan() -> TimeSpan {
        switch tspanSpec {
        case .value(let span): return span
        case .function(let g): return g(p)
        }
    }

    /// The initial state, evaluated at the current parameters and `t0`.
    @inlinable
    public func resolvedInitialState() -> [Scalar] {
        switch u0Spec {
        case .value(let u0): return u0
        case .function(let g): return g(p, resolvedTimeSpan().0)
        }
    }

    /// A copy with any of `p`, `u0` and `tspan` replaced. A replaced `p` feeds any
    /// parameter-dependent `u0`/`tspan` that is kept.
    public func remake(
        p: [Scalar]? = nil, u0: [Scalar]? = nil, tspan: TimeSpan? = nil, callbacks: CallbackSet<Scalar>? = nil,
        massMatrix: [Double]? = nil
    ) -> ODEProblem {
        var copy = self
        if let massMatrix { copy.massMatrix = massMatrix }
        if let p { copy.p = p }
        if let callbacks { copy.callbacks = callbacks }
        if let u0 { copy.u0Spec = .value(u0) }
        if let tspan { copy.tspanSpec = .value(tspan) }
        return copy
    }
}

extension ODEProblem {
    /// A problem from a closure right-hand side (the quick form); `autonomous: true` declares
    /// that `f` ignores `t` (see ``ODEFunction/isAutonomous``).
    public init<S: DiffEqScalar>(
        f: @escaping ClosureRHS<S>.Function, jacobian: ClosureRHS<S>.Function? = nil, autonomous: Bool = false,
        u0: [S], tspan: TimeSpan, p: [S] = []
    ) where F == ClosureRHS<S> {
        self.init(ClosureRHS(f, jacobian: jacobian, autonomous: autonomous), u0: u0, tspan: tspan, p: p)
    }

    /// A problem from a model written once over the scalar protocol (the generic form).
    public init<M: ODEModel, S: DiffEqScalar>(
        model: M, u0: [S], tspan: TimeSpan, p: [S] = []
    ) where F == GenericRHS<M, S> {
        self.init(GenericRHS(model, as: S.self), u0: u0, tspan: tspan, p: p)
    }
}

// A problem is a value users hand to concurrent solves (a `withTaskGroup` over parameters, an
// ensemble): `u0(p, t0)`, `tspan(p)`, the callbacks and a closure right-hand side are `@Sendable`
// closures, so only a right-hand side type of the user's that is not `Sendable` keeps it from
// being one.
extension ODEProblem: Sendable where F: Sendable {}
