import DiffEqCore

/// The right-hand side of a delay differential equation `du/dt = f(u(t), h, p, t)` as the method
/// of steps sees it: `f` reads the past through `h` (``DDEHistory``), which is the initial
/// history before `t0` and the solution's own dense output after it.
public protocol DDEFunction {
    associatedtype Scalar: DiffEqScalar

    /// Writes `f(u, h, p, t)` into `du`.
    func callAsFunction(_ du: inout [Scalar], _ u: [Scalar], _ h: DDEHistory<Scalar>, _ p: [Scalar], _ t: Scalar)

    /// Writes the initial history `φ(p, t)` (for `t ≤ t0`) into `out`. `t` is a scalar so that a
    /// lag carried by a dual number differentiates the history through its time argument too.
    func initialHistory(_ out: inout [Scalar], _ p: [Scalar], _ t: Scalar)

    /// The length of the vector the initial history returns at `t`, for a form whose history
    /// returns a new array (checked before the solve); `nil` (the default) for one that writes
    /// in place, whose length is checked on the output.
    func historyCount(_ p: [Scalar], _ t: Scalar) -> Int?
}

extension DDEFunction {
    public func historyCount(_ p: [Scalar], _ t: Scalar) -> Int? { nil }
}

/// A delay model written once over the scalar protocol: dual numbers flow through `u`, `p`, the
/// history and the lags (forward-mode gradients, including with respect to a lag that is a
/// parameter).
///
/// ```swift
/// struct Hutchinson: DDEModel {
///     func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ h: DDEHistory<S>, _ p: [S], _ t: S) {
///         du[0] = p[0] * u[0] * (1 - h(p, t - p[2], idxs: 0) / p[1])
///     }
///     func history<S: DiffEqScalar>(_ out: inout [S], _ p: [S], _ t: S) { out[0] = 0.5 }
/// }
/// ```
public protocol DDEModel {
    /// Writes `f(u, h, p, t)` into `du`.
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ h: DDEHistory<S>, _ p: [S], _ t: S)
    /// Writes the initial history `φ(p, t)`, `t ≤ t0`, into `out`.
    func history<S: DiffEqScalar>(_ out: inout [S], _ p: [S], _ t: S)
}

/// The quick form: closures over one concrete scalar type.
public struct ClosureDDE<Scalar: DiffEqScalar>: DDEFunction, Sendable {
    public typealias Function = @Sendable (inout [Scalar], [Scalar], DDEHistory<Scalar>, [Scalar], Scalar) -> Void
    /// The initial history `φ(p, t)`, as `h(p, t)` in DelayDiffEq.jl.
    public typealias History = @Sendable ([Scalar], Scalar) -> [Scalar]

    @usableFromInline let f: Function
    @usableFromInline let h: History

    public init(_ f: @escaping Function, history: @escaping History) {
        self.f = f
        self.h = history
    }

    @inlinable
    public func callAsFunction(_ du: inout [Scalar], _ u: [Scalar], _ h: DDEHistory<Scalar>, _ p: [Scalar], _ t: Scalar) {
        f(&du, u, h, p, t)
    }

    public func historyCount(_ p: [Scalar], _ t: Scalar) -> Int? { h(p, t).count }

    @inlinable
    public func initialHistory(_ out: inout [Scalar], _ p: [Scalar], _ t: Scalar) {
        let v = h(p, t)
        // A history of the wrong length is refused before the solve (DDEProblem's validation);
        // should it change length later, NaN makes the step fail instead of reading past the end.
        if v.count == out.count {
            for i in out.indices { out[i] = v[i] }
        } else {
            for i in out.indices { out[i] = Scalar(Double.nan) }
        }
    }
}

/// The generic form: a ``DDEModel`` run under the scalar type `S`.
public struct GenericDDE<M: DDEModel, S: DiffEqScalar>: DDEFunction {
    public typealias Scalar = S
    public let model: M

    public init(_ model: M, as _: S.Type = S.self) { self.model = model }

    @inlinable
    public func callAsFunction(_ du: inout [S], _ u: [S], _ h: DDEHistory<S>, _ p: [S], _ t: S) {
        model.rhs(&du, u, h, p, t)
    }

    @inlinable
    public func initialHistory(_ out: inout [S], _ p: [S], _ t: S) {
        model.history(&out, p, t)
    }
}

extension GenericDDE: Sendable where M: Sendable {}

/// A state-dependent lag `τ(u, p, t)`, evaluated on plain values (the primal parts when the solve
/// runs on dual numbers): what discontinuity tracking needs to locate where `t − τ` crosses a
/// discontinuity of the past. The right-hand side computes its own delayed times.
public typealias DependentLag = @Sendable (_ u: [Double], _ p: [Double], _ t: Double) -> Double

/// A delay differential equation `du/dt = f(u(t), h, p, t)`, `u(t0) = u0`, `u(t) = φ(p, t)` for
/// `t < t0`, on `tspan` (forward in time), as `DDEProblem(f, u0, h, tspan, p; constant_lags,
/// dependent_lags)` in DelayDiffEq.jl.
///
/// `constantLags` are the lags `τ_i > 0` that `f` uses as `h(p, t − τ_i)`; they are what the
/// method of steps propagates the initial discontinuity through and what bounds its step (see
/// ``MethodOfSteps``). A lag that is a parameter (to differentiate with respect to it) is given
/// by its index in `p` (`constantLagParameters`), and `f` reads it as `p[i]`.
/// `dependentLags` are state-dependent lags `τ(u, p, t)`, used to locate their discontinuities.
///
/// ```swift
/// // u'(t) = −u(t − 1), φ = 1
/// let prob = DDEProblem(
///     f: { du, u, h, p, t in du[0] = -h(p, t - 1, idxs: 0) },
///     u0: [1.0], history: { _, _ in [1.0] }, tspan: (0, 10), constantLags: [1])
/// let sol = try solve(prob, MethodOfSteps(Tsit5()), reltol: 1e-8, abstol: 1e-10)
/// ```
///
/// Performance: ``validate()`` is inlinable so that it specializes with the solve (compiled here,
/// the history and the scalar tests went through witness tables): 6.1 k -> 0.8 k instructions
/// of a Hutchinson solve (callgrind).
public struct DDEProblem<F: DDEFunction> {
    public typealias Scalar = F.Scalar

    public var f: F
    public var u0: [Scalar]
    public var tspan: (Double, Double)
    public var p: [Scalar]
    /// Constant lags given as numbers.
    public var constantLags: [Double]
    /// Constant lags that are parameters: indices into `p` (so a dual `p[i]` differentiates
    /// with respect to the lag).
    public var constantLagParameters: [Int]
    public var dependentLags: [DependentLag]
    /// A neutral equation (`f` reads `h.derivative`): a jump in `u'` then recurs at every
    /// propagated point instead of moving to a higher derivative (Bellen & Zennaro 2003, §2.2),
    /// so discontinuity tracking steps onto all of them up to `t1` (at most
    /// `maxDiscontinuities`), not only the first levels. Default `false`, as DelayDiffEq's
    /// `neutral` keyword.
    public var neutral = false
    public init(
        _ f: F, u0: [Scalar], tspan: (Double, Double), p: [Scalar] = [], constantLags: [Double] = [],
        constantLagParameters: [Int] = [], dependentLags: [DependentLag] = []
    ) {
        self.f = f
        self.u0 = u0
        self.tspan = tspan
        self.p = p
        self.constantLags = constantLags
        self.constantLagParameters = constantLagParameters
        self.dependentLags = dependentLags
    }

    /// A copy with any of `p`, `u0`, `tspan` and the numeric lags replaced.
    public func remake(
        p: [Scalar]? = nil, u0: [Scalar]? = nil, tspan: (Double, Double)? = nil, constantLags: [Double]? = nil
    ) -> DDEProblem {
        var copy = self
        if let p { copy.p = p }
        if let u0 { copy.u0 = u0 }
        if let tspan { copy.tspan = tspan }
        if let constantLags { copy.constantLags = constantLags }
        return copy
    }
}

extension DDEProblem {
    /// A problem from closures over one scalar type (the quick form).
    public init<S: DiffEqScalar>(
        f: @escaping ClosureDDE<S>.Function, u0: [S], history: @escaping ClosureDDE<S>.History,
        tspan: (Double, Double), p: [S] = [], constantLags: [Double] = [], constantLagParameters: [Int] = [],
        dependentLags: [DependentLag] = []
    ) where F == ClosureDDE<S> {
        self.init(
            ClosureDDE(f, history: history), u0: u0, tspan: tspan, p: p, constantLags: constantLags,
            constantLagParameters: constantLagParameters, dependentLags: dependentLags)
    }

    /// A problem from a model written once over the scalar protocol (the generic form).
    public init<M: DDEModel, S: DiffEqScalar>(
        model: M, u0: [S], tspan: (Double, Double), p: [S] = [], constantLags: [Double] = [],
        constantLagParameters: [Int] = [], dependentLags: [DependentLag] = []
    ) where F == GenericDDE<M, S> {
        self.init(
            GenericDDE(model, as: S.self), u0: u0, tspan: tspan, p: p, constantLags: constantLags,
            constantLagParameters: constantLagParameters, dependentLags: dependentLags)
    }
}

extension DDEProblem: Sendable where F: Sendable {}

/// Invalid delay-equation input, reported before any work.
public enum DDEError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A constant lag is negative, zero, NaN or infinite (`index` counts the numeric lags first,
    /// then the parameter lags).
    case invalidLag(index: Int, value: Double)
    /// A lag parameter index is not an index of `p`.
    case lagParameterOutOfRange(index: Int, parameterCount: Int)
    /// The initial history `φ(p, t)` returned a vector of the wrong length.
    case historyLengthMismatch(expected: Int, got: Int)
    /// The initial history has a NaN or infinite component at `t`.
    case nonFiniteHistory(component: Int, t: Double)
    /// A state-dependent lag is NaN, infinite or negative at `t0`.
    case invalidDependentLag(index: Int, value: Double)
    /// The span does not run forward (`t1 ≤ t0`); the method of steps integrates forward only.
    case backwardSpan(t0: Double, t1: Double)
    /// The solve options or the problem's ODE part are invalid (as for an ODE).
    case solve(DiffEqError)

    public var description: String {
        switch self {
        case .invalidLag(let i, let v):
            return "constant lag \(i) must be positive and finite, got \(v)"
        case .lagParameterOutOfRange(let i, let n):
            return "lag parameter index \(i) is not an index of p (count \(n))"
        case .historyLengthMismatch(let e, let g):
            return "the initial history h(p, t) has length \(g), expected \(e) (the length of u0)"
        case .nonFiniteHistory(let i, let t):
            return "the initial history h(p, t)[\(i)] is not finite at t = \(t)"
        case .invalidDependentLag(let i, let v):
            return "state-dependent lag \(i) must be a non-negative finite number at t0, got \(v)"
        case .backwardSpan(let t0, let t1):
            return "the span (\(t0), \(t1)) must run forward: the method of steps integrates forward only"
        case .solve(let e):
            return e.description
        }
    }
}

extension DDEProblem {
    /// Every check before any work: the lags, the history's length and finiteness at `t0` and
    /// at `t0 − τ` for each constant lag, the state-dependent lags at `t0`, the direction of the
    /// span. Returns the constant lags (numeric and parameter ones) as plain values.
    @inlinable
    public func validate() throws(DDEError) -> [Double] {
        let (t0, t1) = tspan
        guard t0.isFinite, t1.isFinite, t1 != t0 else { throw .solve(.invalidTimeSpan(t0: t0, t1: t1)) }
        guard t1 > t0 else { throw .backwardSpan(t0: t0, t1: t1) }
        guard !u0.isEmpty else { throw .solve(.emptyState) }
        var lags: [Double] = []
        lags.reserveCapacity(constantLags.count + constantLagParameters.count)
        for i in constantLags.indices {
            let lag = constantLags[i]
            guard lag.isFinite, lag > 0 else { throw .invalidLag(index: i, value: lag) }
            lags.append(lag)
        }
        for k in constantLagParameters.indices {
            let j = constantLagParameters[k]
            guard j >= 0, j < p.count else { throw .lagParameterOutOfRange(index: j, parameterCount: p.count) }
            let lag = p[j].primal
            guard lag.isFinite, lag > 0 else { throw .invalidLag(index: constantLags.count + k, value: lag) }
            lags.append(lag)
        }
        let n = u0.count
        var probe = [Scalar](specializedRepeating: .zero, count: n)
        // t0, then t0 − τ for each lag in order.
        for k in -1..<lags.count {
            let s = k < 0 ? t0 : t0 - lags[k]
            if let m = f.historyCount(p, Scalar(s)), m != n { throw .historyLengthMismatch(expected: n, got: m) }
            f.initialHistory(&probe, p, Scalar(s))
            guard probe.count == n else { throw .historyLengthMismatch(expected: n, got: probe.count) }
            for i in 0..<n where !probe[i].isFiniteScalar { throw .nonFiniteHistory(component: i, t: s) }
        }
        // Closures, not key paths: `\.primal` on a generic scalar is instantiated at run time
        // on every call (a quarter of the setup of a small solve, callgrind).
        guard !dependentLags.isEmpty else { return lags }
        let u0d = u0.map { $0.primal }, pd = p.map { $0.primal }
        for (i, tau) in dependentLags.enumerated() {
            let v = tau(u0d, pd, t0)
            guard v.isFinite, v >= 0 else { throw .invalidDependentLag(index: i, value: v) }
        }
        return lags
    }
}
