import DiffEqCore

/// The linear algebra of a linearly implicit or implicit step, as a type parameter of the one
/// stepper per method family: `J = ∂f/∂u` (evaluation), the iteration matrix `W = α M + β J`
/// (assembly and factorization) and the solves with it, in the stage block's layout.
///
/// A Rosenbrock method factors `W = M/(γh) − J` (`α = 1/(γh)`, `β = −1`); an SDIRK method's
/// simplified Newton iteration `W = I − γhJ` (`α = 1`, `β = −γh`). What differs between the
/// state forms lives here and only here (issue #15, "with the linear solver as a parameter"):
/// ``ArrayStiffLinearSystem`` for array states (``JacobianEvaluator`` and ``IterationMatrix``:
/// dense, banded, sparse, KLU, GMRES; any scalar, `Float` and nested duals included) and
/// ``StaticStiffLinearSystem`` for fixed-size states (``StaticJacobian``; the factors by value,
/// in memory, or of the values only for first-order duals).
///
/// The stepper owns the system as a stored property and reaches it `inout`: every requirement
/// that touches the factors is `mutating`, so that they are read where they are stored (a
/// non-mutating call on a large stored value makes the optimizer copy it first).
public protocol StiffLinearSystem {
    associatedtype Function: DiffEqFunction
    typealias State = Function.State

    /// Settings the linear solver cannot use (a Jacobian structure that does not fit the
    /// system), found before any work.
    func validate() throws(DiffEqError)
    /// Why an iterative solver (or its preconditioner) kept failing, or `nil`.
    var failureMessage: String? { get }

    /// Evaluates `J` at `(t, u)` (`fu = f(t, u)`, reused by difference quotients; `h` and
    /// `tolerance` size their increments), counting its `f` evaluations and Jacobians.
    mutating func evaluateJacobian(
        _ f: Function, _ p: Function.Parameters, t: Double, u: State, fu: State, h: Double, tolerance: ErrorScale,
        stats: inout SolverStats)
    /// Whether ``evaluateJacobian(_:_:t:u:fu:h:tolerance:stats:)`` differences `f` and so reads
    /// `fu`, which must then be `f(t, u)` itself (a Rosenbrock step has it; an SDIRK step, whose
    /// first stage is only within the Newton tolerance of it, evaluates it afresh).
    var jacobianDifferencesF: Bool { get }
    /// Whether every entry of the current `J` is finite (a singular `W` with a non-finite `J` is
    /// `f`'s failure, not the matrix's).
    var jacobianIsFinite: Bool { get }
    /// `‖J‖∞` of the current `J`, a bound on the dominant eigenvalue's magnitude (the stiffness
    /// estimate of ``AutoSwitch``), or NaN where the system does not compute it.
    var jacobianNorm: Double { get }

    /// Forms `W = α M + β J` of the current `J` (`M` the problem's mass matrix, the identity
    /// without one) and factors it, counting the factorization. `false` when `W` is singular or
    /// not finite.
    mutating func factor(alpha: Double, beta: Double, stats: inout SolverStats) -> Bool
    /// Solves `W x = b` in place in a stage slot (`State.stageStride` elements of the block).
    /// May count the solve itself, or leave it to ``countSolves(_:stats:)``.
    mutating func solve(_ x: UnsafeMutablePointer<State.StageElement>, stats: inout SolverStats)
    /// Called once per step attempt with the number of solves (and refinements) it made: counts
    /// those that ``solve(_:stats:)`` did not count (a counter in memory incremented per stage
    /// solve costs a load, an overflow test and a store in the stage loop).
    func countSolves(_ count: Int, stats: inout SolverStats)

    /// Whether the next stage solves of a Rosenbrock step with `γ|h| = gammaStep` are refined
    /// (``StageRefinement``): `Double` states, a dense `W` with the identity mass matrix, and
    /// `γ|h|·max|J_ij|` above ``StageRefinement/threshold``.
    func refinesSolves(gammaStep: Double) -> Bool
    /// One refinement of a solved stage `x` of `W x = b`, `W = α I − J`: the residual
    /// `b − αx + J x` summed in twice the working precision (``StageRefinement``), solved with `W`
    /// and added to `x`. `scratch` is a free slot of the block. Only called when
    /// ``refinesSolves(gammaStep:)`` said so.
    mutating func refine(
        _ x: UnsafeMutablePointer<State.StageElement>, rhs b: UnsafePointer<State.StageElement>,
        scratch: UnsafeMutablePointer<State.StageElement>, alpha: Double, stats: inout SolverStats)
}
