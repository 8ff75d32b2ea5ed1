import CSundials
import CSundialsShim

/// The right-hand side and Jacobian of one solve, reached from CVODE's C callbacks through the
/// `user_data` pointer (`Unmanaged.passUnretained`; the ``CVODESession`` keeps it alive).
@usableFromInline
final class CVODECallbacks {
    /// Writes `f(t, y)` into `ydot` (both of the problem's length); returns `false` when a
    /// component is NaN or infinite.
    @usableFromInline typealias RHS = (Double, UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Bool
    /// Writes `df/dy` at `(t, y)` into the column-major `n×n` buffer; returns `false` when an
    /// entry is NaN or infinite.
    @usableFromInline typealias Jacobian = (Double, UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Bool

    let rhs: RHS
    let jacobian: Jacobian?
    let events: CVODEEventHooks?
    /// Number of states.
    let count: Int
    /// The problem's current parameters as `Double` (an event's affect may change them), for
    /// the linear solvers' user callbacks.
    let parameters: () -> [Double]
    /// The KLU solver's Jacobian (nil for the other linear solvers).
    let sparseJacobian: CVODESparseJacobianEvaluator?
    /// The Krylov solvers' `J v` and preconditioner (nil for the direct solvers).
    let krylov: CVODEKrylovHooks?
    /// CVODE's memory, set by the session once created (for the error weights of difference
    /// Jacobians).
    var memory: UnsafeMutableRawPointer?
    /// Why a user callback of the linear solver stopped the solve (an unrecoverable failure).
    var userFailure: String?
    /// The last recoverable failure a preconditioner reported.
    var lastRecoverable: String?

    /// How many evaluations of `f` or the Jacobian returned a non-finite value.
    var nonFiniteEvaluations = 0
    /// Time of the most recent one.
    var nonFiniteTime = Double.nan

    /// The KLU solver's check solve at the initial point (see
    /// `CVODESparseJacobianEvaluator.check`): why the sparse Jacobian was refused, or nil.
    @usableFromInline
    func checkSparseJacobian(t0: Double, u0: [Double]) -> String? {
        sparseJacobian?.check(t: t0, u0: u0, parameters: parameters, rhs: rhs)
    }

    func recordNonFinite(at t: Double) {
        nonFiniteEvaluations += 1
        nonFiniteTime = t
    }

    /// The first continuous condition that returned NaN, and where (it stops the solve: a NaN
    /// has no sign for the root-finding to follow).
    var nanCondition: (index: Int, time: Double)?

    @usableFromInline
    init(
        rhs: @escaping RHS, jacobian: Jacobian?, events: CVODEEventHooks?, count: Int,
        parameters: @escaping () -> [Double], linearSolver: CVODELinearSolver
    ) {
        self.rhs = rhs
        self.jacobian = jacobian
        self.events = events
        self.count = count
        self.parameters = parameters
        switch linearSolver {
        case .dense:
            sparseJacobian = nil
            krylov = nil
        case .klu(let jacobian):
            sparseJacobian = CVODESparseJacobianEvaluator(jacobian)
            krylov = nil
        case .gmres(let settings), .flexibleGMRES(let settings):
            sparseJacobian = nil
            krylov = CVODEKrylovHooks(settings)
        }
    }
}

/// Which event an affect is run for.
@usableFromInline
enum CVODEEvent {
    /// Continuous callback `index` at a zero crossing, upward (`up`) or downward in the
    /// direction of integration.
    case continuous(Int, up: Bool)
    /// Discrete callback `index`.
    case discrete(Int)
}

/// The problem's `CallbackSet` over `Double` states (built in the generic layer).
@usableFromInline
struct CVODEEventHooks {
    /// Per continuous callback: whether it has an upcrossing and a downcrossing affect, and
    /// where to save.
    let continuous: [(up: Bool, down: Bool, save: (before: Bool, after: Bool))]
    /// Per discrete callback: where to save.
    let discrete: [(before: Bool, after: Bool)]
    /// Writes every continuous condition at `(t, y)` into `g` (CVODE's root functions).
    let conditions: (Double, UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Void
    /// Whether discrete callback `i` fires at `(t, u)`.
    let discreteCondition: (Int, Double, [Double]) -> Bool
    /// Runs an affect at `t` on `u` (in place; it may also change the parameters). Returns
    /// whether the state or the parameters changed, whether the affect terminated, and why the
    /// solve must stop instead (an affect that changed the length of `u` or `p`; `u` and the
    /// parameters are then kept as before the event).
    let affect: (CVODEEvent, Double, inout [Double]) -> (changed: Bool, terminated: Bool, failure: String?)

    @usableFromInline
    init(
        continuous: [(up: Bool, down: Bool, save: (before: Bool, after: Bool))],
        discrete: [(before: Bool, after: Bool)],
        conditions: @escaping (Double, UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Void,
        discreteCondition: @escaping (Int, Double, [Double]) -> Bool,
        affect: @escaping (CVODEEvent, Double, inout [Double]) -> (changed: Bool, terminated: Bool, failure: String?)
    ) {
        self.continuous = continuous
        self.discrete = discrete
        self.conditions = conditions
        self.discreteCondition = discreteCondition
        self.affect = affect
    }
}

// CVODE's C callbacks. A non-finite result is reported as a recoverable failure (return 1), so
// that CVODE retries with a smaller step; CVODE gives up with an error flag if that keeps
// happening, and the session maps it to `ReturnCode.unstable`.

/// `CVRhsFn`.
func cvodeRightHandSide(
    _ t: sunrealtype, _ y: N_Vector?, _ ydot: N_Vector?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let userData, let yData = sdq_nvector_data(y), let dyData = sdq_nvector_data(ydot) else { return -1 }
    let callbacks = Unmanaged<CVODECallbacks>.fromOpaque(userData).takeUnretainedValue()
    if callbacks.rhs(t, UnsafePointer(yData), dyData) { return 0 }
    callbacks.recordNonFinite(at: t)
    return 1
}

/// `CVLsJacFn`: fills SUNDIALS' dense matrix from the user's column-major Jacobian.
func cvodeJacobian(
    _ t: sunrealtype, _ y: N_Vector?, _ fy: N_Vector?, _ jac: SUNMatrix?, _ userData: UnsafeMutableRawPointer?,
    _ tmp1: N_Vector?, _ tmp2: N_Vector?, _ tmp3: N_Vector?
) -> Int32 {
    guard let userData, let yData = sdq_nvector_data(y), let jData = sdq_dense_data(jac) else { return -1 }
    let callbacks = Unmanaged<CVODECallbacks>.fromOpaque(userData).takeUnretainedValue()
    guard let evaluate = callbacks.jacobian else { return -1 }
    if evaluate(t, UnsafePointer(yData), jData) { return 0 }
    callbacks.recordNonFinite(at: t)
    return 1
}

/// `CVRootFn`: the continuous callbacks' conditions.
func cvodeRoots(
    _ t: sunrealtype, _ y: N_Vector?, _ gout: UnsafeMutablePointer<sunrealtype>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let userData, let yData = sdq_nvector_data(y), let gout else { return -1 }
    let callbacks = Unmanaged<CVODECallbacks>.fromOpaque(userData).takeUnretainedValue()
    guard let events = callbacks.events else { return -1 }
    events.conditions(t, UnsafePointer(yData), gout)
    for i in 0..<events.continuous.count where gout[i].isNaN {
        callbacks.nanCondition = (i, t)
        return -1  // CV_RTFUNC_FAIL; the session explains it
    }
    return 0
}
