import CSundials
import CSundialsShim

/// The functions of a CVODES sensitivity analysis, reached from the C callbacks through the
/// `user_data` pointer (`Unmanaged.passUnretained`; the ``CVODESSensitivitySession`` keeps it
/// alive). Every closure works on `Double` buffers of the problem's sizes and returns `false`
/// when it produced a NaN or an infinity (reported to CVODES as a recoverable failure, so that
/// it retries with a smaller step and fails cleanly if that keeps happening).
///
/// The sensitivity matrices cross the boundary as one contiguous column-major `n × ns` buffer
/// (column `j` is `s_j`), copied from and to CVODES' N_Vector arrays in buffers allocated here
/// once, so a callback allocates nothing.
@usableFromInline
package final class CVODESFunctions {
    /// `(t, u, out)`: `f(u, t)` or an `n × n` column-major matrix at `(t, u)`.
    @usableFromInline package typealias Map = (Double, UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Bool
    /// `(t, u, x, out)`: a function of the state and a second vector (`S`, or `λ`).
    @usableFromInline package typealias Product = (Double, UnsafePointer<Double>, UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Bool

    /// `f(u, t)`.
    let rhs: Map
    /// `∂f/∂u` (column-major, `n × n`).
    let jacobian: Map
    /// `(∂f/∂u) S + ∂f/∂θ`: the sensitivity right-hand sides, all `ns` columns at once.
    let sensitivityRHS: Product?
    /// The adjoint right-hand side `−(∂f/∂u)ᵀ λ` at the forward state `u`.
    let adjointRHS: Product?
    /// Its Jacobian with respect to `λ`, `−(∂f/∂u)ᵀ` (column-major, `n × n`).
    let adjointJacobian: Map?
    /// The backward quadrature integrand `−(∂f/∂p)ᵀ λ` (length `np`).
    let adjointQuadrature: Product?

    let n: Int
    let sensitivityCount: Int
    /// Contiguous copies of the sensitivities (`n × sensitivityCount`) for `sensitivityRHS`.
    let sIn: UnsafeMutablePointer<Double>
    let sOut: UnsafeMutablePointer<Double>

    /// Calls of each function (the forward `f` split into the forward pass and the
    /// recomputations between checkpoints during the backward pass).
    var rhsCalls = 0
    var replayRHSCalls = 0
    var adjointRHSCalls = 0
    var quadratureCalls = 0
    var adjointJacobianCalls = 0

    /// How many evaluations returned a non-finite value, and the time of the last one.
    var nonFiniteEvaluations = 0
    var nonFiniteTime = Double.nan

    /// The replay guard (see ``CVODESSensitivitySession``): while `replayMemory` is set (the
    /// backward pass), a forward `f` call made by a recomputation that has already taken
    /// `replayStride` steps from its checkpoint fails, because its next step would be written past
    /// the end of CVODES' interpolation storage.
    var replayMemory: UnsafeMutableRawPointer?
    var replayStride = 0
    var replayBase = Int.max
    var replayOverrun = false

    @usableFromInline
    package init(
        count n: Int, sensitivityCount: Int, rhs: @escaping Map, jacobian: @escaping Map,
        sensitivityRHS: Product? = nil, adjointRHS: Product? = nil, adjointJacobian: Map? = nil,
        adjointQuadrature: Product? = nil
    ) {
        self.n = n
        self.sensitivityCount = sensitivityCount
        self.rhs = rhs
        self.jacobian = jacobian
        self.sensitivityRHS = sensitivityRHS
        self.adjointRHS = adjointRHS
        self.adjointJacobian = adjointJacobian
        self.adjointQuadrature = adjointQuadrature
        let size = Swift.max(1, n * sensitivityCount)
        sIn = .allocate(capacity: size)
        sIn.initialize(repeating: 0, count: size)
        sOut = .allocate(capacity: size)
        sOut.initialize(repeating: 0, count: size)
    }

    deinit {
        sIn.deallocate()
        sOut.deallocate()
    }

    /// Forgets the counters and the guard's state (a new run with the same functions).
    func reset() {
        rhsCalls = 0
        replayRHSCalls = 0
        adjointRHSCalls = 0
        quadratureCalls = 0
        adjointJacobianCalls = 0
        nonFiniteEvaluations = 0
        nonFiniteTime = .nan
        replayMemory = nil
        replayBase = Int.max
        replayOverrun = false
    }

    func recordNonFinite(at t: Double) {
        nonFiniteEvaluations += 1
        nonFiniteTime = t
    }

    /// A callback's return code for an evaluation at `t` that was `finite` or not: 0, or the
    /// recoverable failure 1 (recorded).
    func status(finite: Bool, at t: Double) -> Int32 {
        if finite { return 0 }
        recordNonFinite(at: t)
        return 1
    }

    /// Whether the forward `f` may run now (always, outside the backward pass).
    ///
    /// A recomputation from a checkpoint starts with CVODES' step counter at the checkpoint's
    /// value (a multiple of the stride, smaller than any value seen in the recomputation of the
    /// later checkpoint before it, since the backward pass moves back one checkpoint at a time),
    /// so a drop in the counter marks a new recomputation. CVODES stores the point of each of its
    /// steps in an array of `stride + 1` entries without a bounds check (SUNDIALS issues #31 and
    /// #49): a call after `stride` steps of one recomputation belongs to a step that would be
    /// written past its end.
    func replayAllowed() -> Bool {
        guard let memory = replayMemory else { return true }
        var nst = 0
        CVodeGetNumSteps(memory, &nst)
        if nst < replayBase { replayBase = nst }
        if nst - replayBase >= replayStride {
            replayOverrun = true
            return false
        }
        return true
    }
}

// The C callbacks. A non-finite result is a recoverable failure (1); a missing function or the
// replay guard an unrecoverable one (-1).

/// `CVRhsFn`: the forward right-hand side.
func cvodesRightHandSide(
    _ t: sunrealtype, _ y: N_Vector?, _ ydot: N_Vector?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let userData, let yData = sdq_nvector_data(y), let dyData = sdq_nvector_data(ydot) else { return -1 }
    let functions = Unmanaged<CVODESFunctions>.fromOpaque(userData).takeUnretainedValue()
    if functions.replayMemory != nil {
        guard functions.replayAllowed() else { return -1 }
        functions.replayRHSCalls += 1
    } else {
        functions.rhsCalls += 1
    }
    return functions.status(finite: functions.rhs(t, UnsafePointer(yData), dyData), at: t)
}

/// `CVLsJacFn`: `∂f/∂u` into SUNDIALS' dense (column-major) matrix.
func cvodesJacobian(
    _ t: sunrealtype, _ y: N_Vector?, _ fy: N_Vector?, _ jac: SUNMatrix?, _ userData: UnsafeMutableRawPointer?,
    _ tmp1: N_Vector?, _ tmp2: N_Vector?, _ tmp3: N_Vector?
) -> Int32 {
    guard let userData, let yData = sdq_nvector_data(y), let jData = sdq_dense_data(jac) else { return -1 }
    let functions = Unmanaged<CVODESFunctions>.fromOpaque(userData).takeUnretainedValue()
    return functions.status(finite: functions.jacobian(t, UnsafePointer(yData), jData), at: t)
}

/// `CVSensRhsFn`: every sensitivity right-hand side in one call.
func cvodesSensitivityRHS(
    _ ns: Int32, _ t: sunrealtype, _ y: N_Vector?, _ ydot: N_Vector?, _ yS: UnsafeMutablePointer<N_Vector?>?,
    _ ySdot: UnsafeMutablePointer<N_Vector?>?, _ userData: UnsafeMutableRawPointer?, _ tmp1: N_Vector?,
    _ tmp2: N_Vector?
) -> Int32 {
    guard let userData, let yData = sdq_nvector_data(y), let yS, let ySdot else { return -1 }
    let functions = Unmanaged<CVODESFunctions>.fromOpaque(userData).takeUnretainedValue()
    guard let sensitivityRHS = functions.sensitivityRHS, Int(ns) == functions.sensitivityCount else { return -1 }
    let n = functions.n
    for j in 0..<Int(ns) {
        guard let column = sdq_nvector_data(yS[j]) else { return -1 }
        (functions.sIn + j * n).update(from: column, count: n)
    }
    let finite = sensitivityRHS(t, UnsafePointer(yData), UnsafePointer(functions.sIn), functions.sOut)
    for j in 0..<Int(ns) {
        guard let column = sdq_nvector_data(ySdot[j]) else { return -1 }
        column.update(from: functions.sOut + j * n, count: n)
    }
    return functions.status(finite: finite, at: t)
}

/// `CVRhsFnB`: the adjoint right-hand side at the interpolated forward state `y`.
func cvodesAdjointRHS(
    _ t: sunrealtype, _ y: N_Vector?, _ yB: N_Vector?, _ yBdot: N_Vector?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    cvodesAdjointProduct(t, y, yB, yBdot, userData, \.adjointRHS, calls: \.adjointRHSCalls)
}

/// `CVQuadRhsFnB`: the backward quadrature integrand.
func cvodesAdjointQuadrature(
    _ t: sunrealtype, _ y: N_Vector?, _ yB: N_Vector?, _ qBdot: N_Vector?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    cvodesAdjointProduct(t, y, yB, qBdot, userData, \.adjointQuadrature, calls: \.quadratureCalls)
}

/// The two backward products above: `product(t, y, λ)` into `out`, counted in `calls`.
private func cvodesAdjointProduct(
    _ t: sunrealtype, _ y: N_Vector?, _ yB: N_Vector?, _ out: N_Vector?, _ userData: UnsafeMutableRawPointer?,
    _ product: KeyPath<CVODESFunctions, CVODESFunctions.Product?>,
    calls: ReferenceWritableKeyPath<CVODESFunctions, Int>
) -> Int32 {
    guard let userData, let yData = sdq_nvector_data(y), let lData = sdq_nvector_data(yB),
        let outData = sdq_nvector_data(out)
    else { return -1 }
    let functions = Unmanaged<CVODESFunctions>.fromOpaque(userData).takeUnretainedValue()
    guard let product = functions[keyPath: product] else { return -1 }
    functions[keyPath: calls] += 1
    return functions.status(finite: product(t, UnsafePointer(yData), UnsafePointer(lData), outData), at: t)
}

/// `CVLsJacFnB`: the adjoint system's Jacobian `−(∂f/∂u)ᵀ`.
func cvodesAdjointJacobian(
    _ t: sunrealtype, _ y: N_Vector?, _ yB: N_Vector?, _ fyB: N_Vector?, _ jac: SUNMatrix?,
    _ userData: UnsafeMutableRawPointer?, _ tmp1: N_Vector?, _ tmp2: N_Vector?, _ tmp3: N_Vector?
) -> Int32 {
    guard let userData, let yData = sdq_nvector_data(y), let jData = sdq_dense_data(jac) else { return -1 }
    let functions = Unmanaged<CVODESFunctions>.fromOpaque(userData).takeUnretainedValue()
    guard let adjointJacobian = functions.adjointJacobian else { return -1 }
    functions.adjointJacobianCalls += 1
    return functions.status(finite: adjointJacobian(t, UnsafePointer(yData), jData), at: t)
}
