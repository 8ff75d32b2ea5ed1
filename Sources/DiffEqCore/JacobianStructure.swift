/// What is known about where `∂f/∂u` can be nonzero, declared by a right-hand side
/// (``ODEFunction/jacobianStructure``, ``ODEModel/jacobianStructure``) so that the stiff methods
/// evaluate and solve only what the structure needs: the role of `jac_prototype` in
/// DifferentialEquations.jl. The structure says nothing about which linear solver is used; the
/// stiff methods choose one from it (their `linearSolver` setting decides when given).
public enum JacobianStructure: Sendable, Equatable {
    /// Every entry may be nonzero.
    case dense

    /// The Jacobian of a state of `stateCount` components augmented with its variational
    /// (forward sensitivity) equations, `y = [u; s_1; …; s_m]` with `s_k' = A(u) s_k + b_k(u)`,
    /// `A = ∂f/∂u`:
    ///
    ///     ⎡ A            ⎤
    ///     ⎢ C_1  A       ⎥     C_k = ∂(A s_k + b_k)/∂u,
    ///     ⎢ C_2      A   ⎥
    ///     ⎣ …          ⋱ ⎦
    ///
    /// block lower triangular, zero outside the first block column and the diagonal, every
    /// diagonal block the same `A`. Only the first block column is stored (an `N × stateCount`
    /// column-major matrix, `N` the full dimension): an analytic ``ODEFunction/jacobian(_:_:_:_:)``
    /// and ``ODEFunction/forwardModeJacobian(_:_:_:_:)`` write those columns only. The stiff
    /// methods then factor the `stateCount × stateCount` iteration matrix of `A` once and solve
    /// by block forward substitution, as CVODES' simultaneous corrector reuses the state's
    /// Newton matrix (Cao, Li, Petzold & Serban, SIAM J. Sci. Comput. 24 (2003) 1076-1089, §3).
    /// The full dimension must be a multiple of `stateCount`; no mass matrix.
    case variational(stateCount: Int)

    /// Only the entries of `pattern` may be nonzero: Jacobians by finite differences or
    /// forward-mode AD are evaluated by column colouring (``SparsityPattern/columnColoring()``),
    /// one evaluation of `f` per colour instead of per column.
    case sparse(SparsityPattern)

    /// How many leading columns of the Jacobian are stored for a system of `n` components.
    @inlinable
    public func storedColumns(count n: Int) -> Int {
        if case .variational(let block) = self, block > 0, block <= n, n % block == 0 { return block }
        return n
    }

    /// Throws unless the structure fits a system of `n` components.
    public func validate(count n: Int) throws(DiffEqError) {
        switch self {
        case .dense:
            return
        case .variational(let block):
            guard block >= 1, block <= n, n % block == 0 else {
                throw .dimensionMismatch(
                    what: "variational Jacobian structure: the state count must divide the system's dimension",
                    expected: n, got: block)
            }
        case .sparse(let pattern):
            guard pattern.rows == n, pattern.columns == n else {
                throw .dimensionMismatch(what: "sparsity pattern dimension", expected: n, got: pattern.rows == n ? pattern.columns : pattern.rows)
            }
        }
    }
}
