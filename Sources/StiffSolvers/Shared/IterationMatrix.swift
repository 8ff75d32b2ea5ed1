import DiffEqCore

/// How a stiff method solves its linear systems with the iteration matrix `W = α M + β J`:
/// the method's `linsolve`, as in DifferentialEquations.jl.
public enum LinearSolver: Sendable, Equatable {
    /// Chosen from the right-hand side's ``JacobianStructure``: the block solve of
    /// ``JacobianStructure/variational(stateCount:)`` for a variational system without a mass
    /// matrix, else dense LU (a ``JacobianStructure/sparse(_:)`` Jacobian is still evaluated by
    /// colouring).
    case automatic
    /// Dense LU of the full `W`, whatever the structure (today's behaviour for every method).
    case denseLU
    /// Sparse LU of `W` by SuiteSparse's KLU (``SparseIterationMatrix``): the symbolic analysis
    /// once per solve, numeric refactorization per new `W`. Needs a
    /// ``JacobianStructure/sparse(_:)`` right-hand side (the Jacobian is evaluated by colouring
    /// and stored compressed; an analytic Jacobian is written dense, `n²` entries, and gathered);
    /// `Double` or `Float` states, no mass matrix.
    case sparseLU
    /// Restarted GMRES with an optional right preconditioner, Jacobian-free if asked
    /// (``KrylovIterationMatrix``, ``GMRESOptions``). `Double` states, no mass matrix.
    case gmres(GMRESOptions)

    /// GMRES with default settings and the given preconditioner.
    public static func gmres(preconditioner: (any GMRESPreconditioner)? = nil, jacobianFree: Bool = false) -> LinearSolver {
        .gmres(GMRESOptions(preconditioner: preconditioner, jacobianFree: jacobianFree))
    }

    /// What ``JacobianEvaluator`` stores for this solver and structure.
    @inlinable
    func jacobianLayout(_ structure: JacobianStructure, count n: Int) -> JacobianLayout {
        switch self {
        case .automatic, .denseLU:
            return .standard
        case .sparseLU:
            if case .sparse(let pattern) = structure { return .compressed(pattern) }
            return .standard
        case .gmres(let options):
            if options.jacobianFree { return .none }
            if case .sparse(let pattern) = structure { return .compressed(pattern) }
            return .standard
        }
    }
}

/// How ``JacobianEvaluator`` lays out `J` for the linear solver.
@usableFromInline
enum JacobianLayout {
    /// Column-major `n × storedColumns` (dense, or a variational structure's first block column).
    case standard
    /// One value per entry of the pattern, in its compressed-column order.
    case compressed(SparsityPattern)
    /// Nothing: `J v` is a difference quotient of `f`.
    case none
}

extension JacobianStructure {
    /// The structure the stiff methods work with: the declared one when it fits a system of `n`
    /// components without a mass matrix (a variational structure with one is refused by
    /// ``validateForStiffMethods(count:hasMass:)``), dense otherwise.
    @inlinable
    public func resolved(count n: Int, hasMass: Bool, solver: LinearSolver = .automatic) -> JacobianStructure {
        switch self {
        case .dense:
            return .dense
        case .variational:
            guard solver == .automatic, !hasMass, (try? validate(count: n)) != nil else { return .dense }
            return self
        case .sparse:
            return (try? validate(count: n)) != nil ? self : .dense
        }
    }

    /// The checks a stiff method runs before any work (``ODEStepper/validateSettings()``).
    public func validateForStiffMethods(count n: Int, hasMass: Bool) throws(DiffEqError) {
        try validate(count: n)
        if case .variational = self, hasMass {
            throw .unsupported("a variational Jacobian structure with a mass matrix (the block solve assumes M = I)")
        }
    }
}

/// The iteration matrix of an implicit or linearly implicit method, `W = α M + β J`, factored
/// once and solved against many times (every stage, every Newton iteration): the seam through
/// which the stiff methods reach a linear solver.
///
/// Rosenbrock methods use `W = M/(γ h) − J` (α = 1/(γh), β = −1) and SDIRK Newton iterations
/// `W = M − γ h J` (α = 1, β = −γh). The solver follows the resolved ``JacobianStructure``:
///
/// - **dense**: ``DenseIterationMatrix``, LU of the full `n × n` matrix.
/// - **variational** (`stateCount = b`, `n = b (1 + m)`): `J` holds only its first block column
///   `[A; C_1; …; C_m]` (`n × b`). `W` is block lower triangular with every diagonal block
///   `W₀ = α I + β A`, so one LU of `W₀` (`b × b`) serves all: `W x = r` is
///
///       W₀ x₀ = r₀,    W₀ x_k = r_k − β C_k x₀   (k = 1 … m),
///
///   block forward substitution, as CVODES' simultaneous corrector solves the sensitivity
///   systems with the state's Newton matrix (Cao, Li, Petzold & Serban 2003, §3; CVODES
///   guide, "Forward sensitivity analysis"). Factorization `O(b³)` instead of `O(n³)`, storage
///   `O(n b)` instead of `O(n²)`, a solve `O(n b)`.
///
/// - **sparse LU** (``LinearSolver/sparseLU``, a sparse structure): ``SparseIterationMatrix``,
///   KLU on `W`'s pattern; `J` holds one value per entry of the pattern.
/// - **GMRES** (``LinearSolver/gmres(_:)``): ``KrylovIterationMatrix``; `J` as for sparse LU
///   (sparse structure), dense, or absent (Jacobian-free).
///
/// A zero pivot (or a preconditioner whose setup fails) is reported as `false` from
/// ``factor(alpha:beta:J:mass:stats:)``: the caller rejects the step and retries with a smaller
/// one, never crashes. A GMRES solve that fails fills `b` with NaN (the attempt is rejected) and
/// says why in ``failureMessage``.
public struct IterationMatrix<Scalar: DiffEqScalar> {
    @usableFromInline let n: Int
    /// `n` for the dense solver, `b` for the variational one.
    @usableFromInline let blockSize: Int
    @usableFromInline let isVariational: Bool
    /// The dense LU of `W` (dense), or of the diagonal block `W₀` (variational).
    @usableFromInline var dense: DenseIterationMatrix<Scalar>
    /// Variational: `A` copied out of `J`'s first block column, `b × b` column-major.
    @usableFromInline var diagonalBlock: [Scalar]
    /// Variational: `−β [C_1; …; C_m]`, `(n − b) × b` column-major.
    @usableFromInline var coupling: [Scalar]
    /// ``LinearSolver/sparseLU``: KLU (then `dense` is an empty placeholder).
    @usableFromInline var sparse: [SparseIterationMatrix<Scalar>] = []
    /// ``LinearSolver/gmres(_:)``: GMRES.
    @usableFromInline var krylov: [KrylovIterationMatrix<Scalar>] = []
    /// Which of the above does the work (one element each when used, empty otherwise), tested
    /// before either is touched (Performance note at the end).
    @usableFromInline let backend: Backend
    @usableFromInline enum Backend: UInt8 { case dense, sparse, krylov }
    /// Why the chosen solver cannot work for this system (thrown by the steppers'
    /// `validateSettings()` before any work).
    public let setupError: DiffEqError?
    /// The last failure of an iterative solve, for the steppers' failure messages.
    public let log: LinearSolverLog

    @inlinable
    public var alpha: Double {
        switch backend {
        case .dense: return dense.alpha
        case .sparse: return sparseAlpha
        case .krylov: return krylov[0].alpha
        }
    }
    @inlinable
    public var beta: Double {
        switch backend {
        case .dense: return dense.beta
        case .sparse: return sparseBeta
        case .krylov: return krylov[0].beta
        }
    }
    @usableFromInline var sparseAlpha = 0.0
    @usableFromInline var sparseBeta = 0.0
    @inlinable
    public var isFactored: Bool {
        switch backend {
        case .dense: return dense.isFactored
        case .sparse: return sparse[0].isFactored
        case .krylov: return krylov[0].isFactored
        }
    }
    /// Whether `W` is one dense `n × n` matrix (its `J` the full `n × n` Jacobian).
    @inlinable
    public var isDense: Bool { !isVariational && backend == .dense }
    /// Why the last solves failed (an iterative solver that did not converge, a preconditioner
    /// that failed), while they keep failing; `nil` otherwise.
    public var failureMessage: String? { log.message }
    /// The nonzeros of `W` and of its LU factors (sparse LU only).
    public var sparseNonzeroCounts: (matrix: Int, factors: Int)? { sparse.first?.nonzeroCounts }

    /// The dense LU for `n` components.
    public init(count n: Int) {
        self.init(count: n, structure: .dense)
    }

    /// The solver for `structure` (resolved: see ``JacobianStructure/resolved(count:hasMass:solver:)``).
    public init(count n: Int, structure: JacobianStructure) {
        self.init(count: n, structure: structure, solver: .automatic, hasMass: false, linearization: nil)
    }

    /// The solver `solver` for `structure` (resolved), with the ``LinearizationPoint`` of the
    /// stepper's ``JacobianEvaluator`` (``JacobianEvaluator/linearization``; GMRES needs it).
    /// A combination that cannot work is recorded in ``setupError``.
    @usableFromInline
    init(count n: Int, structure: JacobianStructure, solver: LinearSolver, hasMass: Bool, linearization: LinearizationPoint<Scalar>?) {
        self.n = n
        log = LinearSolverLog()
        var setupError: DiffEqError?
        switch solver {
        case .automatic, .denseLU:
            break
        case .sparseLU:
            if hasMass {
                setupError = .unsupported("linearSolver .sparseLU with a mass matrix")
            } else if Scalar.self != Double.self && Scalar.self != Float.self {
                setupError = .unsupported("linearSolver .sparseLU for \(Scalar.self) states (Double and Float only)")
            } else if case .sparse(let pattern) = structure {
                if let matrix = SparseIterationMatrix<Scalar>(pattern: pattern) {
                    sparse = [matrix]
                } else {
                    setupError = .unsupported("linearSolver .sparseLU: KLU refused the sparsity pattern")
                }
            } else {
                setupError = .unsupported(
                    "linearSolver .sparseLU needs a sparse Jacobian structure: declare a SparsityPattern (jacobianStructure .sparse)")
            }
        case .gmres(let options):
            do throws(DiffEqError) { try options.validate() } catch { setupError = error }
            if hasMass {
                setupError = .unsupported("linearSolver .gmres with a mass matrix")
            } else if Scalar.self != Double.self {
                setupError = .unsupported("linearSolver .gmres for \(Scalar.self) states (Double only)")
            } else if setupError == nil, let linearization {
                var pattern: SparsityPattern?
                if case .sparse(let p) = structure { pattern = p }
                krylov = [KrylovIterationMatrix(count: n, options: options, point: linearization, pattern: pattern, log: log)]
            } else if setupError == nil {
                setupError = .unsupported("linearSolver .gmres: the stepper gave no linearization point")
            }
        }
        self.setupError = setupError
        backend = !krylov.isEmpty ? .krylov : !sparse.isEmpty ? .sparse : .dense
        if backend != .dense {
            blockSize = n
            isVariational = false
            dense = DenseIterationMatrix(count: 0)
            diagonalBlock = []
            coupling = []
            return
        }
        if case .variational(let b) = structure, b < n, b >= 1, n % b == 0 {
            blockSize = b
            isVariational = true
            dense = DenseIterationMatrix(count: b)
            diagonalBlock = [Scalar](repeating: .zero, count: b * b)
            coupling = [Scalar](repeating: .zero, count: (n - b) * b)
        } else {
            blockSize = n
            isVariational = false
            dense = DenseIterationMatrix(count: n)
            diagonalBlock = []
            coupling = []
        }
    }

    /// Forms `W = α M + β J` (`M` column-major, `nil` for the identity) and factors it. Returns
    /// `false` when `W` is singular (or has non-finite entries). `J` is laid out as the
    /// structure stores it (variational: the `n × b` first block column; `mass` must be `nil`).
    @inlinable
    public mutating func factor(alpha: Double, beta: Double, J: [Scalar], mass: [Double]?, stats: inout SolverStats) -> Bool {
        if _slowPath(backend == .krylov) {
            return krylov[0].factor(alpha: alpha, beta: beta, J: J, stats: &stats)
        }
        if _slowPath(backend == .sparse) {
            sparseAlpha = alpha
            sparseBeta = beta
            return sparse[0].factor(alpha: alpha, beta: beta, J: J, stats: &stats)
        }
        guard isVariational else {
            return dense.factor(alpha: alpha, beta: beta, J: J, mass: mass, stats: &stats)
        }
        return factorVariational(alpha: alpha, beta: beta, J: J, stats: &stats)
    }

    @inlinable
    mutating func factorVariational(alpha: Double, beta: Double, J: [Scalar], stats: inout SolverStats) -> Bool {
        let (n, b) = (self.n, blockSize)
        let rest = n - b
        var finite = true
        for j in 0..<b {
            for i in 0..<b { diagonalBlock[i &+ j &* b] = J[i &+ j &* n] }
            for r in 0..<rest {
                let v = J[b &+ r &+ j &* n].scaled(by: -beta)
                coupling[r &+ j &* rest] = v
                finite = finite && v.isFiniteScalar
            }
        }
        let ok = dense.factor(alpha: alpha, beta: beta, J: diagonalBlock, mass: nil, stats: &stats)
        return ok && finite
    }

    /// Solves `W x = b` in place. Requires a successful ``factor(alpha:beta:J:mass:stats:)``.
    @inlinable
    public func solve(_ b: inout [Scalar], stats: inout SolverStats) {
        b.withUnsafeMutableBufferPointer { x in
            // An empty system (n = 0) has no base address and nothing to solve.
            if let base = x.baseAddress { solve(base, stats: &stats) } else { stats.nlinsolves += 1 }
        }
    }

    /// Solves `W x = b` in place for the `n` entries at `b` (a stage inside a larger buffer):
    /// no array, so no uniqueness check or copy. Requires a successful
    /// ``factor(alpha:beta:J:mass:stats:)``.
    @inlinable @inline(__always)
    public func solve(_ b: UnsafeMutablePointer<Scalar>, stats: inout SolverStats) {
        if _slowPath(backend == .krylov) {
            krylov[0].solve(b, stats: &stats)
            return
        }
        if _slowPath(backend == .sparse) {
            sparse[0].solve(b, stats: &stats)
            return
        }
        guard isVariational else {
            dense.solve(b, stats: &stats)
            return
        }
        solveVariational(b, stats: &stats)
    }

    /// ``solve(_:stats:)`` for a `W` that its owner reaches `inout` (a stepper's stored
    /// property): `mutating` although it only reads, so that `self` is passed by address and the
    /// dense factors are read where they are (Performance note at the end). The other solvers
    /// go through ``solve(_:stats:)``.
    @inlinable @inline(__always)
    mutating func solveInPlace(_ b: UnsafeMutablePointer<Scalar>, stats: inout SolverStats) {
        guard _fastPath(backend == .dense && !isVariational) else {
            solve(b, stats: &stats)
            return
        }
        dense.solveInPlace(b, stats: &stats)
    }

    /// Block forward substitution; counted as one linear solve.
    @inlinable
    func solveVariational(_ x: UnsafeMutablePointer<Scalar>, stats: inout SolverStats) {
        let (n, b) = (self.n, blockSize)
        let rest = n - b
        dense.solve(x, stats: &stats)
        let tail = x + b
        coupling.withUnsafeBufferPointer { D in
            guard let D = D.baseAddress else { return }
            for j in 0..<b {
                let xj = x[j]
                if xj == .zero { continue }
                let column = D + j &* rest
                for r in 0..<rest { tail[r] += column[r] * xj }
            }
        }
        var blockStats = SolverStats()
        var k = b
        while k < n {
            dense.solve(x + k, stats: &blockStats)
            k &+= b
        }
    }

    // Performance: the dense path is the hot one (a solve per stage). With the sparse and Krylov
    // solvers held as optional structs, every stage copied the whole `IterationMatrix` through
    // outlined value witnesses (copy, destroy, the optional's tag): VDPOL with Rosenbrock23 at
    // 1e-6 took 4,093 instructions per step against 3,370 before they existed, HIRES with
    // Rodas5P 7 % more (callgrind on rosen-step-bench, SOLVES=6 minus SOLVES=1). Holding them in
    // arrays (a copy is one retain; empty for the dense path), a stored `backend` tag tested
    // first, and inlined accessors bring it back to 3,481 (+3 %) and +0.7 %, same bits.
    // A non-mutating solve on a `W` in memory that the caller also writes through pointers (the
    // stage vectors) made the optimizer copy the whole value (448 bytes, `memcpy`) before the
    // Rosenbrock stage loop and before each refined stage solve: the Rosenbrock stepper calls the
    // `mutating` ``solveInPlace(_:stats:)`` on its stored `W`. (The same for SDIRK's Newton
    // solves traded the copy for three retains and releases of the LU buffers per solve: HIRES
    // KenCarp4 -1.9 %, VDPOL KenCarp4 +2.1 % per attempt; it keeps ``solve(_:stats:)``.)
}
