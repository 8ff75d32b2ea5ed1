import DiffEqCore

/// The linear solver of CVODE's Newton iteration, which solves `(I − γJ) x = b` a few times
/// per step, as `linear_solver` in Sundials.jl (`:Dense`, `:KLU`, `:GMRES`, `:FGMRES`).
///
/// - ``dense``: SUNDIALS' dense LU (`SUNLinSol_Dense`): `n²` memory, `n³/3` per factorization.
///   The right choice up to a few hundred states.
/// - ``klu(_:)``: SuiteSparse's KLU sparse LU (`SUNLinSol_KLU` on a compressed-sparse-column
///   `SUNMatrix`): memory and work grow with the nonzeros and their fill-in, not `n²`. KLU
///   analyses the pattern once and refactors numerically at later setups.
/// - ``gmres(_:)`` / ``flexibleGMRES(_:)``: SUNDIALS' SPGMR / SPFGMR, matrix-free: CVODE needs
///   only products `J v` (difference quotients of `f`, or yours) and, to converge in a few
///   iterations on stiff problems, a preconditioner `P ≈ I − γJ` that you supply.
///
/// Reference: CVODES User Guide (SUNDIALS 6.x), §2.1 ("the linear solver") and §9-§10 (the
/// SUNMatrix and SUNLinearSolver modules); A. C. Hindmarsh et al., ACM TOMS 31 (2005) 363-396.
public enum CVODELinearSolver: Sendable {
    /// Dense LU; the Jacobian is the problem's analytic one or CVODE's difference quotients.
    case dense
    /// Sparse LU by KLU on the given pattern; the Jacobian's values are yours
    /// (``CVODESparseJacobian/values``) or computed by coloured finite differences.
    case klu(CVODESparseJacobian)
    /// Restarted GMRES (`SUNLinSol_SPGMR`), left, right or two-sided preconditioning.
    case gmres(CVODEKrylov)
    /// Flexible GMRES (`SUNLinSol_SPFGMR`), for a preconditioner that changes between
    /// iterations (an inner iterative solve); SUNDIALS' SPFGMR preconditions on the right only.
    case flexibleGMRES(CVODEKrylov)

    var name: String {
        switch self {
        case .dense: return "dense"
        case .klu: return "KLU"
        case .gmres: return "GMRES"
        case .flexibleGMRES: return "FGMRES"
        }
    }
}

/// Where a Jacobian has structural nonzeros, in compressed-sparse-column form: the rows of
/// column `j` are `rowIndices[columnStarts[j] ..< columnStarts[j + 1]]`, increasing.
///
/// An entry left out is taken to be zero: the Newton matrix is then wrong there, which costs
/// CVODE convergence failures and smaller steps (or a failed solve), not a wrong solution, since
/// the corrector converges to `f`'s own root. The solve adds the diagonal where it is missing
/// (`I − γJ` always has it).
///
/// ```swift
/// // f_i depends on u_{i-1}, u_i, u_{i+1} (a 1-D stencil):
/// let pattern = CVODESparsityPattern(columns: (0..<n).map { j in Array(max(0, j - 1)...min(n - 1, j + 1)) })
/// ```
public struct CVODESparsityPattern: Sendable, Equatable {
    /// Number of states (the matrix is `count x count`).
    public let count: Int
    /// `count + 1` offsets into ``rowIndices``.
    public let columnStarts: [Int]
    /// Row of each nonzero, column by column.
    public let rowIndices: [Int]

    /// A pattern from its compressed-sparse-column arrays (checked when a solve starts).
    public init(count: Int, columnStarts: [Int], rowIndices: [Int]) {
        self.count = count
        self.columnStarts = columnStarts
        self.rowIndices = rowIndices
    }

    /// A pattern from the rows of each column (`columns[j]`: the rows `i` with `∂f_i/∂u_j ≠ 0`,
    /// in any order; duplicates are merged).
    public init(columns: [[Int]]) {
        var starts = [0]
        var rows: [Int] = []
        for column in columns {
            rows.append(contentsOf: Set(column).sorted())
            starts.append(rows.count)
        }
        self.init(count: columns.count, columnStarts: starts, rowIndices: rows)
    }

    /// Number of structural nonzeros.
    public var nonzeroCount: Int { rowIndices.count }

    /// Checks the arrays against a problem of `n` states, before any work.
    func validate(stateCount n: Int, name: String) throws(DiffEqError) {
        guard count == n else {
            throw .dimensionMismatch(what: "\(name) sparsity pattern (states)", expected: n, got: count)
        }
        guard columnStarts.count == n + 1 else {
            throw .dimensionMismatch(what: "\(name) sparsity pattern columnStarts", expected: n + 1, got: columnStarts.count)
        }
        guard columnStarts[0] == 0, columnStarts[n] == rowIndices.count else {
            throw .invalidStepOption(
                "\(name): sparsity pattern columnStarts must start at 0 and end at rowIndices.count = \(rowIndices.count), "
                    + "got \(columnStarts[0]) and \(columnStarts[n])")
        }
        for j in 0..<n {
            let start = columnStarts[j], end = columnStarts[j + 1]
            guard start <= end else {
                throw .invalidStepOption("\(name): sparsity pattern columnStarts decreases at column \(j)")
            }
            var previous = -1
            for k in start..<end {
                let i = rowIndices[k]
                guard (0..<n).contains(i) else {
                    throw .invalidStepOption("\(name): sparsity pattern row \(i) in column \(j) is outside 0..<\(n)")
                }
                guard i > previous else {
                    throw .invalidStepOption(
                        "\(name): sparsity pattern rows of column \(j) must increase without repeats (\(previous), then \(i))")
                }
                previous = i
            }
        }
    }

    /// The same pattern with every diagonal entry present, and where each of this pattern's
    /// entries sits in it.
    func withDiagonal() -> (pattern: CVODESparsityPattern, position: [Int]) {
        var starts = [0]
        var rows: [Int] = []
        var position = [Int](repeating: 0, count: rowIndices.count)
        rows.reserveCapacity(rowIndices.count + count)
        for j in 0..<count {
            var diagonalDone = false
            for k in columnStarts[j]..<columnStarts[j + 1] {
                let i = rowIndices[k]
                if !diagonalDone && i >= j {
                    if i != j { rows.append(j) }
                    diagonalDone = true
                }
                position[k] = rows.count
                rows.append(i)
            }
            if !diagonalDone { rows.append(j) }
            starts.append(rows.count)
        }
        return (CVODESparsityPattern(count: count, columnStarts: starts, rowIndices: rows), position)
    }
}

/// The Jacobian for ``CVODELinearSolver/klu(_:)``: its pattern and, optionally, its values.
public struct CVODESparseJacobian: Sendable {
    /// Writes `∂f/∂u` at `(u, p, t)` into `values`, one entry per nonzero of ``pattern`` in its
    /// order (column by column). Entries outside the pattern are taken as zero.
    public typealias Values =
        @Sendable (_ values: UnsafeMutableBufferPointer<Double>, _ u: UnsafeBufferPointer<Double>, _ p: [Double], _ t: Double)
        -> Void

    public var pattern: CVODESparsityPattern
    /// Your Jacobian's values, or `nil` for forward differences with column colouring: columns
    /// that share no row are perturbed together, so a Jacobian costs one evaluation of `f` per
    /// colour (5 for a five-point stencil, with a greedy colouring), not one per state.
    public var values: Values?

    public init(pattern: CVODESparsityPattern, values: Values? = nil) {
        self.pattern = pattern
        self.values = values
    }
}

/// Settings of the Krylov linear solvers (``CVODELinearSolver/gmres(_:)``,
/// ``CVODELinearSolver/flexibleGMRES(_:)``).
public struct CVODEKrylov: Sendable {
    /// Which side the preconditioner is applied on.
    public enum Side: Sendable, Equatable {
        /// Solve `P⁻¹(I − γJ) x = P⁻¹ b` (`SUN_PREC_LEFT`; what `cvsDiurnal_kry` uses).
        case left
        /// Solve `(I − γJ) P⁻¹ y = b`, `x = P⁻¹ y` (`SUN_PREC_RIGHT`).
        case right
        /// Split: `P = P_L P_R` (`SUN_PREC_BOTH`); `solve` is called with `left` true and false.
        case both
    }

    /// `J v` at `(u, p, t)` into `Jv`, given `v`.
    public typealias JacobianTimesVector =
        @Sendable (
            _ Jv: UnsafeMutableBufferPointer<Double>, _ v: UnsafeBufferPointer<Double>, _ u: UnsafeBufferPointer<Double>,
            _ p: [Double], _ t: Double
        ) -> Void

    /// Largest Krylov subspace per linear solve (SUNDIALS' `maxl`; its default is 5).
    public var maxKrylovDimension: Int
    /// The preconditioner, made afresh for every solve by ``makePreconditioner`` (it holds
    /// per-solve state); `nil` runs unpreconditioned, which on a stiff problem takes many
    /// iterations or fails to converge.
    public var makePreconditioner: (@Sendable () -> any CVODEPreconditioner)?
    /// Where the preconditioner applies (ignored without one).
    public var side: Side
    /// Your `J v`, or `nil` for CVODE's difference quotient `(f(u + σv) − f(u))/σ`.
    public var jacobianTimesVector: JacobianTimesVector?
    /// The linear iteration stops when the preconditioned residual is below this factor times
    /// the Newton tolerance (`CVodeSetEpsLin`; CVODE's default 0.05).
    public var linearToleranceFactor: Double

    public init(
        maxKrylovDimension: Int = 5, side: Side = .left,
        preconditioner: (@Sendable () -> any CVODEPreconditioner)? = nil,
        jacobianTimesVector: JacobianTimesVector? = nil, linearToleranceFactor: Double = 0.05
    ) {
        self.maxKrylovDimension = maxKrylovDimension
        self.side = side
        self.makePreconditioner = preconditioner
        self.jacobianTimesVector = jacobianTimesVector
        self.linearToleranceFactor = linearToleranceFactor
    }

    func validate(name: String, flexible: Bool) throws(DiffEqError) {
        guard maxKrylovDimension >= 1 else {
            throw .invalidStepOption("\(name): maxKrylovDimension must be at least 1, got \(maxKrylovDimension)")
        }
        guard linearToleranceFactor.isFinite, linearToleranceFactor > 0 else {
            throw .invalidStepOption("\(name): linearToleranceFactor must be positive and finite, got \(linearToleranceFactor)")
        }
        if flexible, makePreconditioner != nil, side != .right {
            throw .invalidStepOption(
                "\(name): SPFGMR preconditions on the right only; use side: .right (or .gmres for \(side) preconditioning)")
        }
    }
}

/// A preconditioner `P ≈ I − γJ` for CVODE's Krylov solvers, CVODE's `CVLsPrecSetupFn` and
/// `CVLsPrecSolveFn` (`CVodeSetPreconditioner`). One instance serves one solve; the algorithm
/// holds a factory (``CVODEKrylov/makePreconditioner``) so that concurrent solves never share
/// one.
///
/// Errors: throw ``CVODEPreconditionerFailure/recoverable(_:)`` when a smaller step may help
/// (CVODE retries, with fresh Jacobian data); any other error stops the solve with
/// ``ReturnCode/failure`` and the error's description in the message. A solve that writes NaN
/// or Inf into `z` stops the solve the same way.
public protocol CVODEPreconditioner: AnyObject {
    /// Prepares `P` at `(t, u)` for `γ`. `mayReuseJacobian` is CVODE's `jok`: when true,
    /// Jacobian data saved at an earlier setup may be reused (scaled by the new `γ`); when
    /// false it must be recomputed. Returns whether it was recomputed (CVODE's `jcur`).
    func setup(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double],
        mayReuseJacobian: Bool, gamma: Double
    ) throws -> Bool

    /// Solves `P z = r` (or its left or right factor: `left`), approximately; `delta` is the
    /// tolerance an iterative inner solve should meet (in CVODE's weighted 2-norm).
    func solve(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double],
        r: UnsafeBufferPointer<Double>, z: UnsafeMutableBufferPointer<Double>, gamma: Double, delta: Double, left: Bool
    ) throws
}

/// What a ``CVODEPreconditioner`` throws when a retry with a smaller step may succeed.
public enum CVODEPreconditionerFailure: Error, Sendable, CustomStringConvertible {
    /// CVODE retries (a recoverable failure, return value 1 in C).
    case recoverable(String)

    public var description: String {
        switch self {
        case .recoverable(let why): return why
        }
    }
}
