// The fixed-size state form: a problem whose state is a value of a fixed number of scalars
// (`SIMD3<Double>`, `StaticVector<3>`, `FixedVector<3, Dual<2, Double>>`, ...) and whose right-hand side returns the
// derivative by value, as `ODEProblem(f, SA[...], tspan, p)` with static arrays in
// DifferentialEquations.jl.
//
// Why a second form: with `[Double]` state every stage hands `f` heap arrays, so each call pays a
// uniqueness check on the output array and bounds checks, and `f` cannot be inlined into the
// stage loop (the stepper must keep value semantics if `f` keeps a reference to an argument).
// For a small system those costs are several times the arithmetic of `f` itself (rk-bench,
// "Solver overhead"). A fixed-size value lives in registers: no allocation, no reference
// counting, no checks, and the whole step specializes into straight-line code.
//
// The explicit Runge-Kutta methods solve it over any scalar (`FixedVector<2, Dual<4, Double>>`
// carries four derivatives in registers), the Rosenbrock methods over `Double` and first-order
// dual states (`FixedVector<2, Dual<4, Double>>`), both on
// the one loop (``ODEIntegrator``), with events, dense output and `isOutOfDomain` as in the
// array form, and the Rosenbrock methods take a mass matrix as the array form's do. Both forms' states conform to
// ``DiffEqState``, the one state protocol (DESIGN.md, "The state protocol").

/// A state of a fixed number of components, held by value: a ``DiffEqState`` with value
/// arithmetic and a square-matrix type.
///
/// `SIMD2`...`SIMD64` of `Double` and ``FixedVector`` (any `N`, any ``DiffEqScalar``, held in an
/// `InlineArray`; ``StaticVector`` over `Double`) conform. The arithmetic is component-wise; the
/// solvers combine states only with `+`, `-` and scaling by a `Double`, in the same order as for
/// array states, so both forms give the same numbers. A stage block holds one value per stage.
public protocol StaticState: DiffEqState, Sendable where StageElement == Self {
    /// A square matrix with one column of this type per component (a Jacobian, an iteration
    /// matrix), held by value like the state.
    associatedtype SquareMatrix: StaticSquareMatrix where SquareMatrix.Column == Self
    /// The state with every component zero.
    init()
    /// Number of components.
    var scalarCount: Int { get }
    static func + (lhs: Self, rhs: Self) -> Self
    static func - (lhs: Self, rhs: Self) -> Self
    /// Every component multiplied by `rhs` (``DiffEqScalar/scaled(by:)``).
    static func * (lhs: Self, rhs: Double) -> Self
}

extension StaticState {
    /// The components' values as an array (for reports and comparisons with the array form).
    @inlinable
    public var array: [Double] { (0..<scalarCount).map { self[$0].primal } }
}

extension SIMD2: StaticState where Scalar == Double {
    public typealias SquareMatrix = StaticMatrix<2, Self>
}
extension SIMD3: StaticState where Scalar == Double {
    public typealias SquareMatrix = StaticMatrix<3, Self>
}
extension SIMD4: StaticState where Scalar == Double {
    public typealias SquareMatrix = StaticMatrix<4, Self>
}
extension SIMD8: StaticState where Scalar == Double {
    public typealias SquareMatrix = StaticMatrix<8, Self>
}
extension SIMD16: StaticState where Scalar == Double {
    public typealias SquareMatrix = StaticMatrix<16, Self>
}
extension SIMD32: StaticState where Scalar == Double {
    public typealias SquareMatrix = StaticMatrix<32, Self>
}
extension SIMD64: StaticState where Scalar == Double {
    public typealias SquareMatrix = StaticMatrix<64, Self>
}

/// `N` scalars held inline (an `InlineArray`), for states of any fixed size and any scalar
/// (`FixedVector<2, Dual<4, Double>>` carries four derivatives through a solve): the
/// component-wise arithmetic ``StaticState`` needs as loops of compile-time length, which the
/// optimizer unrolls. (`InlineArray` itself cannot conform: the witness of its subscript does
/// not compile in Swift 6.3, "'self.subscript' is borrowed and cannot be consumed".)
public struct FixedVector<let N: Int, Scalar: DiffEqScalar>: StaticState, Sendable {
    public typealias SquareMatrix = StaticMatrix<N, Self>
    public var storage: InlineArray<N, Scalar>

    @inlinable public init() { storage = InlineArray(repeating: .zero) }
    @inlinable public init(_ storage: InlineArray<N, Scalar>) { self.storage = storage }
    @inlinable public var scalarCount: Int { N }
    @inlinable public var count: Int { N }

    @inlinable
    public subscript(index: Int) -> Scalar {
        get { storage[index] }
        set { storage[index] = newValue }
    }

    @inlinable
    public static func + (lhs: Self, rhs: Self) -> Self {
        var out = lhs
        for i in 0..<N { out.storage[i] = lhs.storage[i] + rhs.storage[i] }
        return out
    }

    @inlinable
    public static func - (lhs: Self, rhs: Self) -> Self {
        var out = lhs
        for i in 0..<N { out.storage[i] = lhs.storage[i] - rhs.storage[i] }
        return out
    }

    @inlinable
    public static func * (lhs: Self, rhs: Double) -> Self {
        var out = lhs
        for i in 0..<N { out.storage[i] = lhs.storage[i].scaled(by: rhs) }
        return out
    }
}

/// `N` doubles held inline: the fixed-size state of any length over `Double`.
public typealias StaticVector<let N: Int> = FixedVector<N, Double>

extension StaticState {
    /// The state holding `components`, from an array whose length is known only at run time
    /// (data, a file, another solve's states). Throws
    /// ``DiffEqError/dimensionMismatch(what:expected:got:)`` unless `components.count` is the
    /// type's ``scalarCount``. (An array literal of the wrong length is an error in the source,
    /// and traps: ``FixedVector/init(arrayLiteral:)``.)
    @inlinable
    public init(components: [Scalar]) throws(DiffEqError) {
        self.init()
        guard components.count == scalarCount else {
            throw .dimensionMismatch(what: "the component array for a \(Self.self)", expected: scalarCount, got: components.count)
        }
        for i in 0..<scalarCount { self[i] = components[i] }
    }
}

extension FixedVector: ExpressibleByArrayLiteral {
    /// `[1, 0, 0]` as a `StaticVector<3>`; the literal must have exactly `N` elements
    /// (``StaticState/init(components:)`` throws instead, for arrays built at run time). (The
    /// literal goes through a variadic array: in a right-hand side, build the result from an
    /// `InlineArray` literal, `StaticVector([a, b, c] as InlineArray)`, which needs no heap.)
    @inlinable
    public init(arrayLiteral elements: Scalar...) {
        precondition(elements.count == N, "a FixedVector<\(N), _> literal needs \(N) elements, got \(elements.count)")
        self.init()
        for i in 0..<N { storage[i] = elements[i] }
    }
}

/// A square matrix over a fixed-size state, column by column (the column-major layout of the
/// array form's Jacobians: entry `(i, j)` is `self[column: j][i]`).
public protocol StaticSquareMatrix: Sendable {
    associatedtype Column: StaticState
    /// The zero matrix.
    init()
    subscript(column j: Int) -> Column { get set }
}

extension StaticSquareMatrix {
    /// Entry `(i, j)`: row `i` of column `j`.
    @inlinable
    public subscript(i: Int, j: Int) -> Column.Scalar {
        get { self[column: j][i] }
        set { self[column: j][i] = newValue }
    }
}

/// `N` columns of type `Column` held inline: the ``StaticState/SquareMatrix`` of every state
/// type here. For a small state the whole matrix lives in registers, and loops over its columns
/// have compile-time length.
public struct StaticMatrix<let N: Int, Column: StaticState>: StaticSquareMatrix {
    public var columns: InlineArray<N, Column>

    @inlinable public init() { columns = InlineArray(repeating: Column()) }

    @inlinable
    public subscript(column j: Int) -> Column {
        get { columns[j] }
        set { columns[j] = newValue }
    }
}

/// The right-hand side of `du/dt = f(u, p, t)` over a fixed-size state, returning `du`.
public protocol StaticODEFunction: DiffEqFunction {
    // Restated (the compiler suggests a `where` clause instead): with `where State: StaticState`
    // a conforming type's `State` and `Parameters` are no longer inferred from its
    // `callAsFunction`, and every model would have to name them.
    associatedtype State: StaticState
    /// Whatever the model reads its parameters from (a SIMD vector, a struct, an array).
    associatedtype Parameters

    func callAsFunction(_ u: State, _ p: Parameters, _ t: Double) -> State

    /// Whether ``jacobian(_:_:_:)`` is an analytic Jacobian (default `false`: the stiff methods
    /// then take forward differences, as for a closure in the array form).
    var hasAnalyticJacobian: Bool { get }

    /// `∂f/∂u` at `(u, p, t)`: column `j` is `∂f/∂u_j`. Called only when
    /// ``hasAnalyticJacobian`` is `true`.
    func jacobian(_ u: State, _ p: Parameters, _ t: Double) -> State.SquareMatrix

    /// Whether ``forwardModeJacobian(_:_:_:)`` differentiates `f` exactly (default `false`;
    /// `true` for the generic form, ``StaticModelRHS``), as ``ODEFunction/supportsForwardModeAD``.
    var supportsForwardModeAD: Bool { get }

    /// `∂f/∂u` at `(u, p, t)` by forward-mode automatic differentiation. Called only when
    /// ``supportsForwardModeAD`` is `true`.
    func forwardModeJacobian(_ u: State, _ p: Parameters, _ t: Double) -> State.SquareMatrix

    /// Whether `f` is declared not to depend on `t` (default `false`); see
    /// ``ODEFunction/isAutonomous``.
    var isAutonomous: Bool { get }

    /// Throws when a problem's `u0` and `p` do not fit this right-hand side; checked before any
    /// work by every fixed-size solve (default: nothing to check; ``StaticModelRHS`` compares
    /// the sizes its model declares).
    func validate(u0: State, p: Parameters) throws(DiffEqError)
}

extension StaticODEFunction {
    /// The value-returning call, assigned.
    @inlinable @inline(__always)
    public func evaluate(into du: inout State, _ u: State, _ p: Parameters, _ t: Double) {
        du = self(u, p, t)
    }

    @inlinable public var hasAnalyticJacobian: Bool { false }
    @inlinable public func jacobian(_ u: State, _ p: Parameters, _ t: Double) -> State.SquareMatrix { .init() }
    @inlinable public var supportsForwardModeAD: Bool { false }
    @inlinable public func forwardModeJacobian(_ u: State, _ p: Parameters, _ t: Double) -> State.SquareMatrix { .init() }
    @inlinable public var isAutonomous: Bool { false }
    @inlinable public func validate(u0: State, p: Parameters) throws(DiffEqError) {}
}

/// A closure as a fixed-size right-hand side (the quick form).
///
/// A closure is called through a pointer and is not inlined into the step; a type conforming to
/// ``StaticODEFunction`` (a struct with the formula in `callAsFunction`) is, which is the fastest
/// form for small systems.
public struct StaticClosureRHS<State: StaticState, Parameters>: StaticODEFunction {
    public typealias Function = @Sendable (State, Parameters, Double) -> State
    public typealias JacobianFunction = @Sendable (State, Parameters, Double) -> State.SquareMatrix

    @usableFromInline let f: Function
    @usableFromInline let jac: JacobianFunction?
    @usableFromInline let autonomous: Bool

    /// `jacobian` is `∂f/∂u` (column `j` is `∂f/∂u_j`); `autonomous: true` declares that `f`
    /// ignores `t` (see ``ODEFunction/isAutonomous``).
    public init(_ f: @escaping Function, jacobian: JacobianFunction? = nil, autonomous: Bool = false) {
        self.f = f
        self.jac = jacobian
        self.autonomous = autonomous
    }

    @inlinable @inline(__always)
    public func callAsFunction(_ u: State, _ p: Parameters, _ t: Double) -> State { f(u, p, t) }

    @inlinable public var hasAnalyticJacobian: Bool { jac != nil }

    @inlinable
    public func jacobian(_ u: State, _ p: Parameters, _ t: Double) -> State.SquareMatrix { jac?(u, p, t) ?? .init() }

    @inlinable public var isAutonomous: Bool { autonomous }

    // A generic type's conformance picks one witness for every `Parameters`, so the defaults
    // constrained to `Parameters == [State.Scalar]` never apply here: the casts restore them.
    // Specialized for a concrete `Parameters`, each folds to a constant (no runtime cast).
    @inlinable
    public func parameterScalars(_ p: Parameters) -> [State.Scalar] { (p as? [State.Scalar]) ?? [] }

    @inlinable
    public func parameters(_ p: Parameters, replacedBy scalars: [State.Scalar]) -> Parameters {
        (scalars as? Parameters) ?? p
    }
}

/// An initial-value problem `du/dt = f(u, p, t)`, `u(t0) = u0`, with a fixed-size state.
///
/// ```swift
/// let lorenz = StaticODEProblem(
///     f: { u, p, t in
///         SIMD3(p.x * (u.y - u.x), u.x * (p.y - u.z) - u.y, u.x * u.y - p.z * u.z)
///     },
///     u0: SIMD3<Double>(1, 0, 0), tspan: (0, 10), p: SIMD3<Double>(10, 28, 8.0 / 3))
/// let sol = try solve(lorenz, Tsit5(), reltol: 1e-8, abstol: 1e-8)
/// ```
public struct StaticODEProblem<F: StaticODEFunction> {
    public typealias State = F.State
    public var f: F
    public var u0: State
    public var tspan: (Double, Double)
    public var p: F.Parameters
    /// Events, handled by the one loop as for ``ODEProblem``: a condition and an affect see the
    /// state as the array of its components (``EventContext/u``, written back into the state)
    /// and `p` as ``DiffEqFunction/parameterScalars(_:)`` gives it: the parameters themselves
    /// when they are an array of the state's scalar, else empty (capture them in the closure).
    public var callbacks: CallbackSet<State.Scalar>
    /// A constant mass matrix `M` for `M du/dt = f(u, p, t)`, as ``ODEProblem/massMatrix`` in a
    /// fixed-size matrix (entry `(i, j)` is `massMatrix[i, j]`; only the values of its entries
    /// are read, so for a dual state `M` is a constant); `nil` is the identity. Rosenbrock
    /// methods accept one; the others throw ``DiffEqError/unsupported(_:)``.
    public var massMatrix: State.SquareMatrix?

    public init(
        _ f: F, u0: State, tspan: (Double, Double), p: F.Parameters, callbacks: CallbackSet<State.Scalar> = .init(),
        massMatrix: State.SquareMatrix? = nil
    ) {
        self.f = f
        self.u0 = u0
        self.tspan = tspan
        self.p = p
        self.callbacks = callbacks
        self.massMatrix = massMatrix
    }

    /// ``massMatrix`` column-major, the array form's layout (``ODEProblem/massMatrix``).
    @inlinable
    public var massMatrixColumns: [Double]? {
        massMatrix.map { m in
            let n = u0.scalarCount
            return (0..<(n * n)).map { k in m[k % n, k / n].primal }
        }
    }
}

extension StaticODEProblem {
    /// A problem from a closure right-hand side, with an optional analytic Jacobian;
    /// `autonomous: true` declares that `f` ignores `t` (see ``ODEFunction/isAutonomous``).
    public init<S: StaticState, P>(
        f: @escaping StaticClosureRHS<S, P>.Function, jacobian: StaticClosureRHS<S, P>.JacobianFunction? = nil,
        autonomous: Bool = false, u0: S, tspan: (Double, Double), p: P
    ) where F == StaticClosureRHS<S, P> {
        self.init(StaticClosureRHS(f, jacobian: jacobian, autonomous: autonomous), u0: u0, tspan: tspan, p: p)
    }
}

/// What a fixed-size solve computed: the saved times and states (as values), the return code,
/// the work counters and, when the solve was asked for it (`dense: true`), the dense output
/// (`sol(t)`).
public struct StaticODESolution<State: StaticState>: Sendable {
    public let t: [Double]
    public let u: [State]
    public var retcode: ReturnCode
    /// Why the solve stopped early, when it did.
    public var message: String?
    public var stats: SolverStats
    public let algorithm: String
    /// The estimated global error at the saved points, in tolerances, when the algorithm
    /// estimates it (``GlobalErrorControl``); `nil` otherwise.
    public var globalErrorEstimate: Double?
    /// The interpolant of the accepted steps (``PiecewisePolynomial``), `nil` unless the solve
    /// was given `dense: true`.
    public let denseOutput: PiecewisePolynomial<State.Scalar>?

    public init(
        t: [Double], u: [State], retcode: ReturnCode, message: String?, stats: SolverStats, algorithm: String,
        denseOutput: PiecewisePolynomial<State.Scalar>? = nil
    ) {
        self.t = t
        self.u = u
        self.retcode = retcode
        self.message = message
        self.stats = stats
        self.algorithm = algorithm
        self.denseOutput = denseOutput
    }

    /// The state at `time` from the dense output. Throws ``InterpolationError/noDenseOutput``
    /// for a solve without `dense: true`, ``InterpolationError/outOfDomain(t:domain:)`` outside
    /// what was integrated.
    public func callAsFunction(_ time: Double) throws(InterpolationError) -> State {
        let dense = try checkedDenseOutput(at: time)
        var out = State()
        dense.evaluate(at: time, into: &out)
        return out
    }

    /// `du/dt` at `time` from the dense output (see ``callAsFunction(_:)``).
    public func derivative(_ time: Double) throws(InterpolationError) -> State {
        let dense = try checkedDenseOutput(at: time)
        var out = State()
        dense.derivative(at: time, into: &out)
        return out
    }

    private func checkedDenseOutput(at time: Double) throws(InterpolationError) -> PiecewisePolynomial<State.Scalar> {
        guard let dense = denseOutput, !dense.isEmpty else { throw .noDenseOutput }
        let (lo, hi) = dense.domain
        guard time >= lo && time <= hi else { throw .outOfDomain(t: time, domain: lo...hi) }
        return dense
    }
}

// As ``ODEProblem``: `Sendable` when the right-hand side and its parameters are (the closure
// form's closures are `@Sendable`).
extension StaticClosureRHS: Sendable where Parameters: Sendable {}
extension StaticODEProblem: Sendable where F: Sendable, F.Parameters: Sendable {}
