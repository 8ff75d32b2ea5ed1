// Two ways to give a right-hand side, one protocol for the solvers.
//
// Swift closures cannot be generic, so a model that must run under several scalar types (Double
// for a plain solve, a dual number for forward-mode sensitivities, a tape scalar for adjoints) is
// a type with a generic method (`ODEModel`). A closure over `Double` is the quick form. Solvers
// are generic over `ODEFunction`, so either form is specialised into the step loop.

/// The one call a stepper makes to a right-hand side, whatever the problem's form: writes
/// `f(u, p, t)` into `du` (DESIGN.md, "The state protocol", step 1 of the road to one loop).
///
/// The array form (``ODEFunction``) writes in place into its buffer; the fixed-size form
/// (``StaticODEFunction``) returns a value, which its adapter assigns. A method written against
/// this call and ``DiffEqState`` runs on either, inside the one loop (``ODEIntegrator``).
public protocol DiffEqFunction {
    associatedtype State: DiffEqState
    /// Whatever the model reads its parameters from.
    associatedtype Parameters

    /// `du = f(u, p, t)`.
    func evaluate(into du: inout State, _ u: State, _ p: Parameters, _ t: Double)

    /// The parameters as scalars, as the callbacks (``EventContext/p``) and the options' domain
    /// test see them: the array itself for the array form, empty for parameters of another type.
    func parameterScalars(_ p: Parameters) -> [State.Scalar]

    /// `p` with the scalars an event's affect left in ``EventContext/p`` (see
    /// ``parameterScalars(_:)``); parameters of another type are kept as they are.
    func parameters(_ p: Parameters, replacedBy scalars: [State.Scalar]) -> Parameters
}

extension DiffEqFunction {
    @inlinable public func parameterScalars(_ p: Parameters) -> [State.Scalar] { [] }
    @inlinable public func parameters(_ p: Parameters, replacedBy scalars: [State.Scalar]) -> Parameters { p }
}

extension DiffEqFunction where Parameters == [State.Scalar] {
    @inlinable public func parameterScalars(_ p: Parameters) -> [State.Scalar] { p }
    @inlinable public func parameters(_ p: Parameters, replacedBy scalars: [State.Scalar]) -> Parameters { scalars }
}

/// The right-hand side of `du/dt = f(u, p, t)` as the solvers see it, written in place.
public protocol ODEFunction: DiffEqFunction where State == [Scalar], Parameters == [Scalar] {
    associatedtype Scalar: DiffEqScalar

    /// Writes `f(u, p, t)` into `du` (which has the length of `u`).
    func callAsFunction(_ du: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar)

    /// Whether ``jacobian(_:_:_:_:)`` is an analytic Jacobian.
    var hasAnalyticJacobian: Bool { get }

    /// Writes `df/du` into `J`, column-major (`J[i + j*n]` is `df_i/du_j`). Called only when
    /// ``hasAnalyticJacobian`` is `true`.
    func jacobian(_ J: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar)

    /// Whether ``forwardModeJacobian(_:_:_:_:)`` can differentiate this function exactly: `true`
    /// for the generic form (``GenericRHS``), `false` for a closure over one scalar type.
    var supportsForwardModeAD: Bool { get }

    /// Writes `df/du` (column-major) computed by forward-mode automatic differentiation, in
    /// chunks of 8 directions. Called only when ``supportsForwardModeAD`` is `true`.
    func forwardModeJacobian(_ J: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar)

    /// ``forwardModeJacobian(_:_:_:_:)`` by column colouring: one dual direction per colour of
    /// `coloring` (a colouring of `pattern`), writing the entries of `pattern` only. The default
    /// evaluates the dense Jacobian.
    func forwardModeJacobian(
        _ J: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar, pattern: SparsityPattern, coloring: ColumnColoring)

    /// The coloured forward-mode Jacobian in compressed form: `values[k]` is the entry at row
    /// `pattern.rowIndices[k]` of its column (`values.count == pattern.nonzeroCount`), for the
    /// sparse linear solvers, which never hold the `n × n` matrix. The default evaluates the
    /// dense Jacobian (`n²` entries) and gathers.
    func forwardModeJacobianValues(
        _ values: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar, pattern: SparsityPattern, coloring: ColumnColoring)

    /// Whether `f` is declared not to depend on `t` (default `false`). Methods that need
    /// `∂f/∂t` (Rosenbrock) skip evaluating it, one evaluation of `f` per step, when `true`; a
    /// wrong `true` for a time-dependent `f` costs those methods their order.
    var isAutonomous: Bool { get }

    /// Where `∂f/∂u` can be nonzero (default ``JacobianStructure/dense``); the stiff methods
    /// evaluate and factor by it.
    var jacobianStructure: JacobianStructure { get }
}

extension ODEFunction {
    /// The in-place call, with the time as a constant of the scalar type.
    @inlinable @inline(__always)
    public func evaluate(into du: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Double) {
        self(&du, u, p, Scalar(t))
    }

    @inlinable public var hasAnalyticJacobian: Bool { false }
    @inlinable public func jacobian(_ J: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar) {}
    @inlinable public var supportsForwardModeAD: Bool { false }
    @inlinable public func forwardModeJacobian(_ J: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar) {}
    @inlinable
    public func forwardModeJacobian(
        _ J: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar, pattern: SparsityPattern, coloring: ColumnColoring
    ) {
        forwardModeJacobian(&J, u, p, t)
    }
    @inlinable
    public func forwardModeJacobianValues(
        _ values: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar, pattern: SparsityPattern, coloring: ColumnColoring
    ) {
        let n = u.count
        var J = [Scalar](repeating: .zero, count: n * n)
        forwardModeJacobian(&J, u, p, t, pattern: pattern, coloring: coloring)
        for j in 0..<Swift.min(n, pattern.columns) {
            for k in pattern.columnStart[j]..<pattern.columnStart[j + 1] { values[k] = J[pattern.rowIndices[k] + j * n] }
        }
    }
    @inlinable public var isAutonomous: Bool { false }
    @inlinable public var jacobianStructure: JacobianStructure { .dense }
}

/// A model written once over the scalar protocol; it runs under every scalar type.
public protocol ODEModel {
    /// Writes `f(u, p, t)` into `du`.
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S)

    /// Whether ``jacobian(_:_:_:_:)`` is implemented (default `false`).
    var hasAnalyticJacobian: Bool { get }

    /// Writes `df/du` into `J`, column-major (`J[i + j*n]` is `df_i/du_j`).
    func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S)

    /// Whether ``rhs(_:_:_:_:)`` ignores `t` (default `false`); see
    /// ``ODEFunction/isAutonomous``.
    var isAutonomous: Bool { get }

    /// Where `∂f/∂u` can be nonzero (default ``JacobianStructure/dense``); see
    /// ``ODEFunction/jacobianStructure``.
    var jacobianStructure: JacobianStructure { get }
}

extension ODEModel {
    public var hasAnalyticJacobian: Bool { false }
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {}
    public var isAutonomous: Bool { false }
    public var jacobianStructure: JacobianStructure { .dense }
}

/// What a right-hand side that changed the length of `du` (`du = [...]`, `du.append`) returns
/// instead: `n` NaNs. Every solver indexes `du` up to the state's length, so a shorter array
/// trapped inside the library (index out of range) and a longer one was silently accepted; as
/// NaN it is handled like any non-finite output of `f` (the solve ends as
/// ``ReturnCode/unstable`` with a message).
@inlinable @inline(never)
func resizedOutput<Scalar: DiffEqScalar>(count n: Int) -> [Scalar] {
    [Scalar](repeating: Scalar(Double.nan), count: n)
}

extension ODEModel {
    /// ``rhs(_:_:_:_:)`` for the library's own evaluations outside a solver (dual-number
    /// Jacobians and sensitivities, adjoint products, CVODES callbacks), which index `du` up to
    /// its given length: returns the length the model left in `du`, and when that is not the
    /// given length puts back `du.count` NaNs (see `resizedOutput(count:)`), so a caller that
    /// ignores the result sees a non-finite output and one that checks it can name the change.
    @inlinable @inline(__always) @discardableResult
    package func lengthCheckedRHS<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) -> Int {
        let n = du.count
        rhs(&du, u, p, t)
        let written = du.count
        if written != n { du = resizedOutput(count: n) }
        return written
    }
}

/// The quick form: a closure over one concrete scalar type, with an optional analytic Jacobian.
///
/// Without `jacobian:`, the stiff methods difference `f` (CVODE's error-weighted increments;
/// `.centralDifferences` on request); there is no automatic differentiation of a closure. A Swift
/// closure value has one concrete type, `(inout [Double], [Double], [Double], Double) -> Void`,
/// and cannot be generic over the scalar, so the solver cannot call it with dual numbers; any
/// wrapper that could would have to be a named type with a generic method, which is what an
/// ``ODEModel`` is. For forward-mode AD Jacobians and for gradients, write the right-hand side
/// once as an ``ODEModel`` (`func rhs<S: DiffEqScalar>(...)`, the same body as the closure) and
/// use `ODEProblem(model:u0:tspan:p:)`.
public struct ClosureRHS<Scalar: DiffEqScalar>: ODEFunction, Sendable {
    public typealias Function = @Sendable (inout [Scalar], [Scalar], [Scalar], Scalar) -> Void

    @usableFromInline let f: Function
    @usableFromInline let jac: Function?
    @usableFromInline let autonomous: Bool
    @usableFromInline let sparsity: SparsityPattern?

    /// `autonomous: true` declares that `f` ignores `t` (see ``ODEFunction/isAutonomous``);
    /// `sparsity`, where `∂f/∂u` can be nonzero (``JacobianStructure/sparse(_:)``: the stiff
    /// methods then difference `f` by column colouring).
    public init(
        _ f: @escaping Function, jacobian: Function? = nil, autonomous: Bool = false, sparsity: SparsityPattern? = nil
    ) {
        self.f = f
        self.jac = jacobian
        self.autonomous = autonomous
        self.sparsity = sparsity
    }

    @inlinable public var isAutonomous: Bool { autonomous }

    @inlinable public var jacobianStructure: JacobianStructure { sparsity.map { .sparse($0) } ?? .dense }

    @inlinable @inline(__always)
    public func callAsFunction(_ du: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar) {
        let n = du.count
        f(&du, u, p, t)
        if du.count != n { du = resizedOutput(count: n) }
    }

    @inlinable public var hasAnalyticJacobian: Bool { jac != nil }

    @inlinable
    public func jacobian(_ J: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar) {
        jac?(&J, u, p, t)
    }
}

/// The generic form: an ``ODEModel`` evaluated at scalar type `Scalar`.
///
/// Because both the model and the scalar are type parameters, a solve is specialised for the
/// concrete model; the AD layer builds `GenericRHS<M, Dual<...>>` from the same model.
public struct GenericRHS<Model: ODEModel, Scalar: DiffEqScalar>: ODEFunction {
    public let model: Model

    @inlinable public init(_ model: Model, as scalar: Scalar.Type = Scalar.self) {
        self.model = model
    }

    @inlinable @inline(__always)
    public func callAsFunction(_ du: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar) {
        model.lengthCheckedRHS(&du, u, p, t)
    }

    @inlinable public var hasAnalyticJacobian: Bool { model.hasAnalyticJacobian }

    @inlinable
    public func jacobian(_ J: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar) {
        model.jacobian(&J, u, p, t)
    }

    @inlinable public var isAutonomous: Bool { model.isAutonomous }

    @inlinable public var jacobianStructure: JacobianStructure { model.jacobianStructure }

    @inlinable public var supportsForwardModeAD: Bool { true }

    /// The model evaluated with `Dual<8, Scalar>` states: `ceil(n/8)` evaluations, each seeding
    /// eight columns (ForwardDiff.jl's chunk mode). Specialised with the model wherever the
    /// solver is, so it costs about `(1 + 8)` plain evaluations per chunk. Writes the first
    /// `J.count / n` columns: all of them for an `n × n` `J`, the stored first block column of a
    /// ``JacobianStructure/variational(stateCount:)`` Jacobian for an `n × stateCount` one.
    @inlinable
    public func forwardModeJacobian(_ J: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar) {
        typealias D = Dual<8, Scalar>
        let n = u.count
        guard n > 0 else { return }
        let columns = Swift.min(n, J.count / n)
        var ud = u.map { D(constant: $0) }
        let pd = p.map { D(constant: $0) }
        var dud = [D](repeating: .zero, count: n)
        let td = D(constant: t)
        var offset = 0
        while offset < columns {
            let width = Swift.min(8, columns - offset)
            for j in 0..<width { ud[offset + j].partials[j] = Scalar(1.0) }
            model.lengthCheckedRHS(&dud, ud, pd, td)
            for j in 0..<width {
                for i in 0..<n { J[i + (offset + j) * n] = dud[i].partials[j] }
                ud[offset + j].partials[j] = .zero
            }
            offset += width
        }
    }
}

extension GenericRHS {
    /// Compressed forward mode (Curtis, Powell & Reid 1974; Gebremedhin, Manne & Pothen 2005):
    /// the columns of each colour seeded in one dual direction, eight colours per evaluation,
    /// `ceil(colours / 8)` evaluations. Each entry equals the dense evaluation's to the bit: the
    /// directions of a dual number are independent, and `f_i` depends on one column of each
    /// colour at most, so the others add exact zeros.
    @inlinable
    public func forwardModeJacobian(
        _ J: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar, pattern: SparsityPattern, coloring: ColumnColoring
    ) {
        let n = u.count
        coloredForwardMode(u, p, t, pattern: pattern, coloring: coloring) { k, i, j, v in J[i + j * n] = v }
    }

    /// The same entries in the pattern's compressed order.
    @inlinable
    public func forwardModeJacobianValues(
        _ values: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar, pattern: SparsityPattern, coloring: ColumnColoring
    ) {
        coloredForwardMode(u, p, t, pattern: pattern, coloring: coloring) { k, _, _, v in values[k] = v }
    }

    /// Calls `store(k, i, j, ∂f_i/∂u_j)` for every entry `k` of `pattern` (row `i`, column `j`).
    @inlinable @inline(__always)
    func coloredForwardMode(
        _ u: [Scalar], _ p: [Scalar], _ t: Scalar, pattern: SparsityPattern, coloring: ColumnColoring,
        store: (Int, Int, Int, Scalar) -> Void
    ) {
        typealias D = Dual<8, Scalar>
        let n = u.count
        guard n > 0, pattern.columns == n, coloring.colors.count == n else { return }
        var ud = u.map { D(constant: $0) }
        let pd = p.map { D(constant: $0) }
        var dud = [D](repeating: .zero, count: n)
        let td = D(constant: t)
        var first = 0
        while first < coloring.count {
            let chunk = first..<Swift.min(first + 8, coloring.count)
            for j in 0..<n where chunk.contains(coloring.colors[j]) { ud[j].partials[coloring.colors[j] - first] = Scalar(1.0) }
            model.lengthCheckedRHS(&dud, ud, pd, td)
            for j in 0..<n where chunk.contains(coloring.colors[j]) {
                let slot = coloring.colors[j] - first
                for k in pattern.columnStart[j]..<pattern.columnStart[j + 1] {
                    store(k, pattern.rowIndices[k], j, dud[pattern.rowIndices[k]].partials[slot])
                }
                ud[j].partials[slot] = .zero
            }
            first += 8
        }
    }
}

extension GenericRHS: Sendable where Model: Sendable {}
