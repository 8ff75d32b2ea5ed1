// The fixed-size form written once over its scalar, as ``ODEModel`` is for the array form: a
// model whose right-hand side runs on `Double` for a solve and on dual numbers for forward-mode
// gradients, with the state in registers either way (`FixedVector<2, Dual<4, Double>>`).

/// A fixed-size model written once over the scalar protocol: returns `f(u, p, t)` for a state of
/// `N` scalars and `P` parameters of any ``DiffEqScalar``.
///
/// The sizes are those of the problem's `u0` and `p` (``StaticODEProblem/init(model:u0:tspan:p:)``);
/// a model reads the components it has (`u[0]`, `p[3]`), so it is written for its own sizes,
/// which it declares (``stateCount``, ``parameterCount``) so that a problem of other sizes is
/// refused with a thrown error instead of trapping inside the model:
///
/// ```swift
/// struct LotkaVolterra: StaticODEModel {
///     var stateCount: Int? { 2 }
///     var parameterCount: Int? { 4 }
///     func rhs<let N: Int, let P: Int, S: DiffEqScalar>(
///         _ u: FixedVector<N, S>, _ p: FixedVector<P, S>, _ t: S
///     ) -> FixedVector<N, S> {
///         var du = u
///         du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
///         du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
///         return du
///     }
/// }
/// let prob = StaticODEProblem(model: LotkaVolterra(), u0: [1.0, 1.0] as StaticVector<2>, tspan: (0, 10),
///                             p: [1.5, 1, 3, 1] as StaticVector<4>)
/// ```
public protocol StaticODEModel {
    /// `f(u, p, t)`.
    func rhs<let N: Int, let P: Int, S: DiffEqScalar>(_ u: FixedVector<N, S>, _ p: FixedVector<P, S>, _ t: S)
        -> FixedVector<N, S>

    /// Whether ``rhs(_:_:_:)`` ignores `t` (default `false`); see ``ODEFunction/isAutonomous``.
    var isAutonomous: Bool { get }

    /// The number of state components ``rhs(_:_:_:)`` is written for, or `nil` (the default)
    /// for a model that reads only the `N` components it is given.
    ///
    /// A model that reads fixed components (`u[1]`, `p[3]`) should declare its sizes: a solve
    /// or gradient of a problem of other sizes then throws
    /// ``DiffEqError/dimensionMismatch(what:expected:got:)`` before any work. Undeclared, the
    /// model's first read past the end traps in `FixedVector`'s bounds check, which no caller
    /// can catch.
    var stateCount: Int? { get }

    /// The number of parameters ``rhs(_:_:_:)`` is written for, or `nil` (the default); see
    /// ``stateCount``.
    var parameterCount: Int? { get }
}

extension StaticODEModel {
    public var isAutonomous: Bool { false }
    public var stateCount: Int? { nil }
    public var parameterCount: Int? { nil }
}

/// A ``StaticODEModel`` evaluated at scalar type `Scalar`: the right-hand side of a
/// ``StaticODEProblem`` (the fixed-size counterpart of ``GenericRHS``).
public struct StaticModelRHS<Model: StaticODEModel, let N: Int, let P: Int, Scalar: DiffEqScalar>: StaticODEFunction {
    public typealias State = FixedVector<N, Scalar>
    public typealias Parameters = FixedVector<P, Scalar>
    public let model: Model

    @inlinable public init(_ model: Model) { self.model = model }

    @inlinable @inline(__always)
    public func callAsFunction(_ u: State, _ p: Parameters, _ t: Double) -> State {
        model.rhs(u, p, Scalar(t))
    }

    @inlinable public var isAutonomous: Bool { model.isAutonomous }

    /// Throws when the problem's sizes `N`, `P` are not those the model declares
    /// (``StaticODEModel/stateCount``, ``StaticODEModel/parameterCount``).
    @inlinable
    public func validate(u0: State, p: Parameters) throws(DiffEqError) {
        if let n = model.stateCount, n != N {
            throw .dimensionMismatch(what: "u0 of a model declaring stateCount \(n)", expected: n, got: N)
        }
        if let m = model.parameterCount, m != P {
            throw .dimensionMismatch(what: "p of a model declaring parameterCount \(m)", expected: m, got: P)
        }
    }

    @inlinable public var supportsForwardModeAD: Bool { true }

    /// `∂f/∂u` from one evaluation of the model on `Dual<N, Scalar>` states, column `j` seeded
    /// in direction `j`, as ``GenericRHS/forwardModeJacobian(_:_:_:_:)`` does for the array form
    /// (in chunks of eight there; each direction of a dual number is computed alone, so the
    /// entries are the same). For a dual `Scalar` (a forward-mode gradient) the duals nest: the
    /// entries of `J` carry the derivatives of the Jacobian along the gradient's directions.
    @inlinable
    public func forwardModeJacobian(_ u: State, _ p: Parameters, _ t: Double) -> State.SquareMatrix {
        typealias D = Dual<N, Scalar>
        var ud = FixedVector<N, D>()
        for i in 0..<N { ud[i] = D(u[i], seed: i) }
        var pd = FixedVector<P, D>()
        for k in 0..<P { pd[k] = D(constant: p[k]) }
        let du = model.rhs(ud, pd, D(constant: Scalar(t)))
        var J = State.SquareMatrix()
        for j in 0..<N {
            var column = State()
            for i in 0..<N { column[i] = du[i].partials[j] }
            J[column: j] = column
        }
        return J
    }

    @inlinable public func parameterScalars(_ p: Parameters) -> [Scalar] { p.components }

    @inlinable
    public func parameters(_ p: Parameters, replacedBy scalars: [Scalar]) -> Parameters {
        guard scalars.count == P else { return p }
        var q = p
        for i in 0..<P { q[i] = scalars[i] }
        return q
    }
}

extension StaticModelRHS: Sendable where Model: Sendable {}

extension StaticODEProblem {
    /// A fixed-size problem in the generic form: `model` on the scalars of `u0` and `p`.
    @inlinable
    public init<M: StaticODEModel, let N: Int, let P: Int, S: DiffEqScalar>(
        model: M, u0: FixedVector<N, S>, tspan: (Double, Double), p: FixedVector<P, S>
    ) where F == StaticModelRHS<M, N, P, S> {
        self.init(StaticModelRHS(model), u0: u0, tspan: tspan, p: p)
    }
}
