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
/// A zero pivot is reported as `false` from ``factor(alpha:beta:J:mass:stats:)``: the caller
/// rejects the step and retries with a smaller one, never crashes.
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

    public var alpha: Double { dense.alpha }
    public var beta: Double { dense.beta }
    public var isFactored: Bool { dense.isFactored }
    /// Whether `W` is one dense `n × n` matrix (its `J` the full `n × n` Jacobian).
    public var isDense: Bool { !isVariational }

    /// The dense LU for `n` components.
    public init(count n: Int) {
        self.init(count: n, structure: .dense)
    }

    /// The solver for `structure` (resolved: see ``JacobianStructure/resolved(count:hasMass:solver:)``).
    public init(count n: Int, structure: JacobianStructure) {
        self.n = n
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
    @inlinable
    public func solve(_ b: UnsafeMutablePointer<Scalar>, stats: inout SolverStats) {
        guard isVariational else {
            dense.solve(b, stats: &stats)
            return
        }
        solveVariational(b, stats: &stats)
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
}
