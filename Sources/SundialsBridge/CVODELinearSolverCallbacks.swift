import CSundials
import DiffEqCore
import CSundialsShim
import Glibc

/// The sparse Jacobian of a KLU solve: the matrix pattern (the user's with the diagonal added)
/// and either the user's values or a column colouring for forward differences.
final class CVODESparseJacobianEvaluator {
    let pattern: CVODESparsityPattern
    /// Where each of the user's nonzeros sits in ``pattern``.
    private let position: [Int]
    private let userValues: CVODESparseJacobian.Values?
    private var userBuffer: [Double]
    /// Columns of each colour (structurally orthogonal: no two share a row).
    let colourGroups: [[Int]]
    private var perturbed: [Double]
    private var perturbedF: [Double]
    /// Whether the values are the user's (else coloured differences).
    var hasUserValues: Bool { userValues != nil }
    /// Evaluations of `f` spent on difference Jacobians.
    private(set) var rhsEvaluations = 0

    init(_ jacobian: CVODESparseJacobian) {
        let (pattern, position) = jacobian.pattern.withDiagonal()
        self.pattern = pattern
        self.position = position
        userValues = jacobian.values
        userBuffer = [Double](repeating: 0, count: jacobian.values == nil ? 0 : jacobian.pattern.nonzeroCount)
        colourGroups = jacobian.values == nil ? Self.colour(pattern) : []
        perturbed = [Double](repeating: 0, count: jacobian.values == nil ? pattern.count : 0)
        perturbedF = perturbed
    }

    /// The columns of each colour of DiffEqCore's greedy distance-2 colouring
    /// (``SparsityPattern/columnColoring(columns:)``, the one the native stiff methods use):
    /// column `j` takes the smallest colour not used by an earlier column with a row in common.
    static func colour(_ p: CVODESparsityPattern) -> [[Int]] {
        let n = p.count
        var entries: [(row: Int, column: Int)] = []
        entries.reserveCapacity(p.nonzeroCount)
        for j in 0..<n { for k in p.columnStarts[j]..<p.columnStarts[j + 1] { entries.append((p.rowIndices[k], j)) } }
        // The pattern was validated before the solve started; one column per colour otherwise.
        guard let pattern = try? SparsityPattern(rows: n, columns: n, entries: entries) else { return (0..<n).map { [$0] } }
        let coloring = pattern.columnColoring()
        var groups = [[Int]](repeating: [], count: coloring.count)
        for j in 0..<n { groups[coloring.colors[j]].append(j) }
        return groups
    }

    /// Fills the CSC arrays of `matrix` (SUNDIALS zeroes the pattern with the values before
    /// each evaluation) and its values. Returns false when a value is NaN or infinite.
    func evaluate(
        _ matrix: SUNMatrix, t: Double, y: UnsafePointer<Double>, fy: UnsafePointer<Double>,
        errorWeights: UnsafePointer<Double>?, parameters: () -> [Double], rhs: CVODECallbacks.RHS
    ) -> Bool {
        let n = pattern.count
        guard let starts = sdq_sparse_indexptrs(matrix), let rows = sdq_sparse_indexvals(matrix),
            let data = sdq_sparse_data(matrix), sdq_sparse_capacity(matrix) >= pattern.nonzeroCount
        else { return false }
        for j in 0...n { starts[j] = sunindextype(pattern.columnStarts[j]) }
        for k in 0..<pattern.nonzeroCount { rows[k] = sunindextype(pattern.rowIndices[k]) }
        return values(
            into: data, t: t, y: y, fy: fy, errorWeights: errorWeights, parameters: parameters, rhs: rhs)
    }

    /// The values of the Jacobian in ``pattern``'s order. False when one is NaN or infinite.
    func values(
        into data: UnsafeMutablePointer<Double>, t: Double, y: UnsafePointer<Double>, fy: UnsafePointer<Double>,
        errorWeights: UnsafePointer<Double>?, parameters: () -> [Double], rhs: CVODECallbacks.RHS
    ) -> Bool {
        let n = pattern.count
        for k in 0..<pattern.nonzeroCount { data[k] = 0 }
        if let userValues {
            let u = UnsafeBufferPointer(start: y, count: n)
            let p = parameters()
            userBuffer.withUnsafeMutableBufferPointer { values in
                for k in 0..<values.count { values[k] = 0 }
                userValues(values, u, p, t)
                for k in 0..<values.count { data[position[k]] = values[k] }
            }
        } else {
            // Forward differences with CVODE's increment for its dense difference-quotient
            // Jacobian, sqrt(unit roundoff) relative to |u_j| or to the component's error scale
            // 1/w_j, whichever is larger (CVODES User Guide, SUNDIALS 6.x, §2.1, "dense DQ").
            let srur = Double.ulpOfOne.squareRoot()
            var finite = true
            perturbed.withUnsafeMutableBufferPointer { up in
                perturbedF.withUnsafeMutableBufferPointer { fp in
                    for i in 0..<n { up[i] = y[i] }
                    for group in colourGroups {
                        for j in group {
                            let scale = errorWeights.map { 1 / $0[j] } ?? 1
                            let inc = Swift.max(srur * abs(y[j]), srur * (scale.isFinite ? scale : 1))
                            up[j] = y[j] + inc
                        }
                        rhsEvaluations += 1
                        if !rhs(t, UnsafePointer(up.baseAddress!), fp.baseAddress!) { finite = false }
                        for j in group {
                            // The increment actually applied, in floating point.
                            let h = up[j] - y[j]
                            for k in pattern.columnStarts[j]..<pattern.columnStarts[j + 1] {
                                let i = pattern.rowIndices[k]
                                data[k] = (fp[i] - fy[i]) / h
                            }
                            up[j] = y[j]
                        }
                    }
                }
            }
            if !finite { return false }
        }
        for k in 0..<pattern.nonzeroCount where !data[k].isFinite { return false }
        return true
    }

    /// The check solve before any work: `J w` from the sparse Jacobian at `(t0, u0)` against
    /// the central difference `(f(u0 + δw) − f(u0 − δw))/(2δ)` along one fixed direction `w`
    /// (every component perturbed, each by 0.5-1.5 times its own scale). A nonzero the pattern
    /// misses, or a wrong value, shows as a row where the two differ by more than 1e-3 of the
    /// row's size. A nonzero that happens to vanish at `u0` cannot be seen. Returns why the
    /// Jacobian was refused, or nil.
    func check(t: Double, u0: [Double], parameters: () -> [Double], rhs: CVODECallbacks.RHS) -> String? {
        let n = pattern.count
        var f0 = [Double](repeating: 0, count: n), fPlus = f0, fMinus = f0, w = f0, a = f0, size = f0
        var data = [Double](repeating: 0, count: pattern.nonzeroCount)
        for j in 0..<n {
            // A fixed, irregular direction, so that entries of one row cannot cancel.
            let r = 0.5 + Double((j &* 7919) % 101) / 100
            w[j] = r * Swift.max(abs(u0[j]), 1e-6)
        }
        let delta = cbrt(Double.ulpOfOne)
        var ok = true
        u0.withUnsafeBufferPointer { u in
            ok = rhs(t, u.baseAddress!, &f0)
                && data.withUnsafeMutableBufferPointer { d in
                    f0.withUnsafeBufferPointer { f in
                        values(
                            into: d.baseAddress!, t: t, y: u.baseAddress!, fy: f.baseAddress!, errorWeights: nil,
                            parameters: parameters, rhs: rhs)
                    }
                }
        }
        var plus = u0, minus = u0
        for j in 0..<n {
            plus[j] += delta * w[j]
            minus[j] -= delta * w[j]
        }
        ok = ok && rhs(t, plus, &fPlus) && rhs(t, minus, &fMinus)
        guard ok else { return nil }  // not finite at u0: the solve itself reports it
        for j in 0..<n {
            for k in pattern.columnStarts[j]..<pattern.columnStarts[j + 1] {
                let i = pattern.rowIndices[k]
                a[i] += data[k] * w[j]
                size[i] += abs(data[k] * w[j])
            }
        }
        for i in 0..<n {
            let b = (fPlus[i] - fMinus[i]) / (2 * delta)
            let scale = size[i] + abs(b) + 1e-8 * (abs(f0[i]) + 1e-300)
            if abs(a[i] - b) > 1e-3 * scale {
                return "row \(i): the sparse Jacobian gives (J w)_\(i) = \(a[i]), the central difference of f along w "
                    + "gives \(b); the sparsity pattern misses a nonzero of row \(i) or the Jacobian's values are wrong"
            }
        }
        return nil
    }
}

/// The Krylov solvers' hooks of one solve: the user's `J v` and the preconditioner instance.
final class CVODEKrylovHooks {
    let jacobianTimesVector: CVODEKrylov.JacobianTimesVector?
    let preconditioner: (any CVODEPreconditioner)?

    init(_ krylov: CVODEKrylov) {
        jacobianTimesVector = krylov.jacobianTimesVector
        preconditioner = krylov.makePreconditioner?()
    }
}

/// `CVLsJacFn` for the KLU solver: the sparse Jacobian.
func cvodeSparseJacobian(
    _ t: sunrealtype, _ y: N_Vector?, _ fy: N_Vector?, _ jac: SUNMatrix?, _ userData: UnsafeMutableRawPointer?,
    _ tmp1: N_Vector?, _ tmp2: N_Vector?, _ tmp3: N_Vector?
) -> Int32 {
    guard let userData, let jac, let yData = sdq_nvector_data(y), let fyData = sdq_nvector_data(fy) else { return -1 }
    let callbacks = Unmanaged<CVODECallbacks>.fromOpaque(userData).takeUnretainedValue()
    guard let sparse = callbacks.sparseJacobian else { return -1 }
    var weights: UnsafePointer<Double>?
    if let memory = callbacks.memory, CVodeGetErrWeights(memory, tmp1) == CV_SUCCESS, let w = sdq_nvector_data(tmp1) {
        weights = UnsafePointer(w)
    }
    if sparse.evaluate(
        jac, t: t, y: UnsafePointer(yData), fy: UnsafePointer(fyData), errorWeights: weights,
        parameters: callbacks.parameters, rhs: callbacks.rhs)
    {
        return 0
    }
    callbacks.recordNonFinite(at: t)
    return 1
}

/// `CVLsJacTimesVecFn`: the user's `J v`.
func cvodeJacobianTimesVector(
    _ v: N_Vector?, _ jv: N_Vector?, _ t: sunrealtype, _ y: N_Vector?, _ fy: N_Vector?,
    _ userData: UnsafeMutableRawPointer?, _ tmp: N_Vector?
) -> Int32 {
    guard let userData, let vData = sdq_nvector_data(v), let jvData = sdq_nvector_data(jv),
        let yData = sdq_nvector_data(y)
    else { return -1 }
    let callbacks = Unmanaged<CVODECallbacks>.fromOpaque(userData).takeUnretainedValue()
    guard let product = callbacks.krylov?.jacobianTimesVector else { return -1 }
    let n = callbacks.count
    let out = UnsafeMutableBufferPointer(start: jvData, count: n)
    product(out, UnsafeBufferPointer(start: vData, count: n), UnsafeBufferPointer(start: yData, count: n), callbacks.parameters(), t)
    for i in 0..<n where !out[i].isFinite {
        callbacks.recordNonFinite(at: t)
        return 1
    }
    return 0
}

/// `CVLsPrecSetupFn`: the user's preconditioner setup.
func cvodePreconditionerSetup(
    _ t: sunrealtype, _ y: N_Vector?, _ fy: N_Vector?, _ jok: Int32, _ jcur: UnsafeMutablePointer<Int32>?,
    _ gamma: sunrealtype, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let userData, let yData = sdq_nvector_data(y), let fyData = sdq_nvector_data(fy) else { return -1 }
    let callbacks = Unmanaged<CVODECallbacks>.fromOpaque(userData).takeUnretainedValue()
    guard let preconditioner = callbacks.krylov?.preconditioner else { return -1 }
    let n = callbacks.count
    do {
        let recomputed = try preconditioner.setup(
            t: t, u: UnsafeBufferPointer(start: yData, count: n), fu: UnsafeBufferPointer(start: fyData, count: n),
            p: callbacks.parameters(), mayReuseJacobian: jok != 0, gamma: gamma)
        jcur?.pointee = recomputed ? 1 : 0
        return 0
    } catch let failure as CVODEPreconditionerFailure {
        callbacks.lastRecoverable = "the preconditioner's setup at t = \(t): \(failure)"
        return 1
    } catch {
        callbacks.userFailure = "the preconditioner's setup failed at t = \(t): \(error)"
        return -1
    }
}

/// `CVLsPrecSolveFn`: the user's preconditioner solve.
func cvodePreconditionerSolve(
    _ t: sunrealtype, _ y: N_Vector?, _ fy: N_Vector?, _ r: N_Vector?, _ z: N_Vector?, _ gamma: sunrealtype,
    _ delta: sunrealtype, _ lr: Int32, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let userData, let yData = sdq_nvector_data(y), let fyData = sdq_nvector_data(fy),
        let rData = sdq_nvector_data(r), let zData = sdq_nvector_data(z)
    else { return -1 }
    let callbacks = Unmanaged<CVODECallbacks>.fromOpaque(userData).takeUnretainedValue()
    guard let preconditioner = callbacks.krylov?.preconditioner else { return -1 }
    let n = callbacks.count
    let out = UnsafeMutableBufferPointer(start: zData, count: n)
    do {
        try preconditioner.solve(
            t: t, u: UnsafeBufferPointer(start: yData, count: n), fu: UnsafeBufferPointer(start: fyData, count: n),
            p: callbacks.parameters(), r: UnsafeBufferPointer(start: rData, count: n), z: out, gamma: gamma,
            delta: delta, left: lr == 1)
    } catch let failure as CVODEPreconditionerFailure {
        callbacks.lastRecoverable = "the preconditioner's solve at t = \(t): \(failure)"
        return 1
    } catch {
        callbacks.userFailure = "the preconditioner's solve failed at t = \(t): \(error)"
        return -1
    }
    if let i = (0..<n).first(where: { !out[$0].isFinite }) {
        callbacks.userFailure = "the preconditioner's solve returned \(out[i]) in z[\(i)] at t = \(t)"
        return -1
    }
    return 0
}
