import DiffEqCore
import Glibc
import ProblemLibrary
import StiffSolvers
import Testing

/// Every native stiff method with each linear solver (issue #20, items 1-2).
enum StiffMethodWithSolver: String, CaseIterable, CustomStringConvertible, Sendable {
    case rosenbrock23 = "Rosenbrock23", rodas4 = "Rodas4", rodas5P = "Rodas5P"
    case trbdf2 = "TRBDF2", kenCarp4 = "KenCarp4", kvaerno5 = "Kvaerno5"

    var description: String { rawValue }

    func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions, linearSolver: LinearSolver) throws -> ODESolution<F.Scalar> {
        switch self {
        case .rosenbrock23: return try Rosenbrock23(linearSolver: linearSolver).solve(problem, options: options)
        case .rodas4: return try Rodas4(linearSolver: linearSolver).solve(problem, options: options)
        case .rodas5P: return try Rodas5P(linearSolver: linearSolver).solve(problem, options: options)
        case .trbdf2: return try TRBDF2(linearSolver: linearSolver).solve(problem, options: options)
        case .kenCarp4: return try KenCarp4(linearSolver: linearSolver).solve(problem, options: options)
        case .kvaerno5: return try Kvaerno5(linearSolver: linearSolver).solve(problem, options: options)
        }
    }
}

/// The cell blocks of the 2-D Brusselator's Jacobian (reaction plus the Laplacian's diagonal),
/// for ``BlockDiagonalPreconditioner``: the layout pairs `u_c` (at `c`) with `v_c` (at
/// `N² + c`), so the test permutes nothing and uses the blocks on a model whose states are
/// interleaved (``InterleavedBrusselator``).
struct InterleavedBrusselator: ODEModel, Sendable {
    let base: Brusselator2D
    let pattern: SparsityPattern
    var cells: Int { base.gridSize * base.gridSize }

    init(_ base: Brusselator2D) throws {
        self.base = base
        let N = base.gridSize, cells = N * N
        var entries: [(row: Int, column: Int)] = []
        for j in 0..<N {
            for i in 0..<N {
                let c = i + N * j
                let neighbours = [c, (i + 1) % N + N * j, (i + N - 1) % N + N * j, i + N * ((j + 1) % N), i + N * ((j + N - 1) % N)]
                for k in neighbours {
                    entries.append((2 * c, 2 * k))
                    entries.append((2 * c + 1, 2 * k + 1))
                }
                entries.append((2 * c, 2 * c + 1))
                entries.append((2 * c + 1, 2 * c))
            }
        }
        pattern = try SparsityPattern(rows: 2 * cells, columns: 2 * cells, entries: entries)
    }

    var initialState: [Double] {
        let y = base.initialState
        return (0..<(2 * cells)).map { $0 % 2 == 0 ? y[$0 / 2] : y[cells + $0 / 2] }
    }

    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let cells = self.cells
        var y = [S](repeating: .zero, count: 2 * cells)
        for c in 0..<cells {
            y[c] = u[2 * c]
            y[cells + c] = u[2 * c + 1]
        }
        var dy = y
        base.rhs(&dy, y, p, t)
        for c in 0..<cells {
            du[2 * c] = dy[c]
            du[2 * c + 1] = dy[cells + c]
        }
    }
    var isAutonomous: Bool { true }
    var jacobianStructure: JacobianStructure { .sparse(pattern) }

    /// Block `c` (column-major 2 × 2) of `∂f/∂u`: the reaction and the Laplacian's diagonal.
    var cellBlocks: BlockDiagonalPreconditioner {
        let N = base.gridSize
        return BlockDiagonalPreconditioner(blockSize: 2, blockCount: N * N) { c, J, u, p, _ in
            let inv = Double((N - 1) * (N - 1))
            let x = u[2 * c], y = u[2 * c + 1], a = p[4 * c]
            J[0] = 2 * x * y - (a + 1) - 4 * p[4 * c + 2] * inv
            J[1] = a - 2 * x * y
            J[2] = x * x
            J[3] = -x * x - 4 * p[4 * c + 3] * inv
        }
    }
}

@Suite struct SparseLinearSolverTests {
    static func brusselator(_ N: Int) throws -> (ODEProblem<GenericRHS<InterleavedBrusselator, Double>>, InterleavedBrusselator) {
        let model = try InterleavedBrusselator(Brusselator2D(gridSize: N))
        return (ODEProblem(model: model, u0: model.initialState, tspan: (0, 0.5), p: model.base.nominalParameters), model)
    }

    static func relativeDifference(_ a: [Double], _ b: [Double]) -> Double {
        let scale = b.map { abs($0) }.max() ?? 1
        return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? .nan
    }

    /// Sparse LU against dense LU: the coloured Jacobian is the dense one bit for bit
    /// (SparseJacobianTests), so the two solves differ by the LU's rounding only, far below the
    /// tolerance (measured: at most ~1e-12 relative); KLU's analysis ran once, its refactors did
    /// the rest.
    @Test(arguments: StiffMethodWithSolver.allCases)
    func sparseLUAgreesWithDenseLU(method: StiffMethodWithSolver) throws {
        let (prob, _) = try Self.brusselator(4)
        let options = SolveOptions(reltol: 1e-6, abstol: .scalar(1e-8), saveEverystep: false)
        let dense = try method.solve(prob, options: options, linearSolver: .denseLU)
        let sparse = try method.solve(prob, options: options, linearSolver: .sparseLU)
        #expect(dense.retcode == .success && sparse.retcode == .success)
        #expect(Self.relativeDifference(sparse.u.last!, dense.u.last!) < 1e-9)
        #expect(sparse.stats.njacs == dense.stats.njacs)
        #expect(sparse.stats.nluFactorizations == dense.stats.nluFactorizations)
    }

    /// The closure form (coloured finite differences into the compressed layout).
    @Test func sparseLUWithColouredDifferences() throws {
        let model = Brusselator2D(gridSize: 4)
        let pattern = try SparseJacobianTests.brusselatorPattern(4)
        let closure = ClosureRHS<Double>({ du, u, p, t in model.rhs(&du, u, p, t) }, autonomous: true, sparsity: pattern)
        let prob = ODEProblem(closure, u0: model.initialState, tspan: (0, 0.5), p: model.nominalParameters)
        let options = SolveOptions(reltol: 1e-6, abstol: .scalar(1e-8), saveEverystep: false)
        let dense = try Rodas5P(linearSolver: .denseLU).solve(prob, options: options)
        let sparse = try Rodas5P(linearSolver: .sparseLU).solve(prob, options: options)
        #expect(sparse.retcode == .success)
        #expect(Self.relativeDifference(sparse.u.last!, dense.u.last!) < 1e-9)
        #expect(sparse.stats.nf == dense.stats.nf)
    }

    /// GMRES (matrix-based, Jacobian-free, and with the cell-block preconditioner) against dense
    /// LU: inexact solves, so agreement to the tolerance's order, not to rounding. The Krylov
    /// stopping rule allows 0.005 tolerance units per solve (GMRESOptions).
    @Test(arguments: StiffMethodWithSolver.allCases)
    func gmresAgreesWithDenseLU(method: StiffMethodWithSolver) throws {
        let (prob, model) = try Self.brusselator(4)
        let reltol = 1e-6
        let options = SolveOptions(reltol: reltol, abstol: .scalar(1e-8), saveEverystep: false)
        let dense = try method.solve(prob, options: options, linearSolver: .denseLU)
        for solver in [
            LinearSolver.gmres(preconditioner: nil), .gmres(preconditioner: nil, jacobianFree: true),
            .gmres(preconditioner: model.cellBlocks), .gmres(preconditioner: model.cellBlocks, jacobianFree: true),
        ] {
            let krylov = try method.solve(prob, options: options, linearSolver: solver)
            #expect(krylov.retcode == .success)
            let difference = Self.relativeDifference(krylov.u.last!, dense.u.last!)
            #expect(difference < 20 * reltol, "\(solver): \(difference)")
        }
    }

    /// The preconditioner cuts the Krylov iterations.
    @Test func preconditionerReducesKrylovIterations() throws {
        let (prob, model) = try Self.brusselator(6)
        let options = SolveOptions(reltol: 1e-6, abstol: .scalar(1e-8), saveEverystep: false)
        let plain = try KenCarp4(linearSolver: .gmres(preconditioner: nil)).solve(prob, options: options)
        let preconditioned = try KenCarp4(linearSolver: .gmres(preconditioner: model.cellBlocks)).solve(prob, options: options)
        #expect(plain.retcode == .success && preconditioned.retcode == .success)
        let perSolvePlain = Double(plain.stats.nlinsolves) / Double(plain.stats.nnonliniter)
        let perSolvePreconditioned = Double(preconditioned.stats.nlinsolves) / Double(preconditioned.stats.nnonliniter)
        #expect(perSolvePreconditioned < perSolvePlain)
    }

    /// `cvsDiurnal_kry` as SUNDIALS runs it (GMRES with the block-diagonal preconditioner of
    /// its `Precond`), natively: the same published output (SUNDIALS v6.4.1,
    /// examples/cvodes/serial/cvsDiurnal_kry.out, in `DiurnalKinetics2D.publishedOutput`) within
    /// one unit of its last printed digit, as the dense native solves (DiurnalNativeTests) and
    /// CVODE's SPGMR run (SundialsBridgeTests/DiurnalKrylovTests) do.
    @Test(arguments: [("Rodas5P", false), ("KenCarp4", false), ("KenCarp4", true)])
    func diurnalWithBlockPreconditionedGMRES(method: String, jacobianFree: Bool) throws {
        let model = DiurnalKinetics2D()
        let prob = ODEProblem(model: model, u0: model.initialState, tspan: model.timeSpan)
        let times = DiurnalKinetics2D.publishedOutput.map(\.t)
        let options = SolveOptions(reltol: 1e-7, abstol: .scalar(DiurnalNativeTests.abstol), saveat: .times(times))
        let blocks = BlockDiagonalPreconditioner(blockSize: 2, blockCount: 100) { k, J, u, _, t in model.diagonalBlock(k, J, u, t) }
        let solver = LinearSolver.gmres(preconditioner: blocks, jacobianFree: jacobianFree)
        let sol = try method == "Rodas5P"
            ? Rodas5P(linearSolver: solver).solve(prob, options: options) : KenCarp4(linearSolver: solver).solve(prob, options: options)
        #expect(sol.retcode == .success)
        try #require(sol.t == times)
        let (worst, noise) = DiurnalNativeTests.compare(sol)
        #expect(worst <= 1)
        #expect(noise < DiurnalNativeTests.abstol)
        if jacobianFree { #expect(sol.stats.njacs == 0) }
    }

    // MARK: Failures and bad input

    /// `u' = 4u` with Rodas4 (`γ = 1/4`) and `h = 1`: `W = 1/(γh) − 4 = 0` exactly; `u' = 32u`
    /// with KenCarp4 and `h = 1/8`: `W = 1 − γh·32 = 0` (as RosenbrockSingularTests and
    /// SDIRKNewtonTests do densely). Fixed steps cannot avoid it: a convergence failure with the
    /// method's message; adaptive steps reject it and succeed.
    @Test func singularSparseWIsAConvergenceFailure() throws {
        let one = try SparsityPattern(rows: 1, columns: 1, entries: [(0, 0)])
        let growth = ODEProblem(
            ClosureRHS<Double>({ du, u, _, _ in du[0] = 4 * u[0] }, jacobian: { J, _, _, _ in J[0] = 4 }, sparsity: one), u0: [1.0],
            tspan: (0, 2))
        let rodas = try Rodas4(linearSolver: .sparseLU).solve(growth, options: SolveOptions(dt: 1, adaptive: false))
        #expect(rodas.retcode == .convergenceFailure)
        #expect(rodas.message?.contains("singular") == true)
        let adaptive = try Rodas4(linearSolver: .sparseLU).solve(growth, options: SolveOptions(reltol: 1e-8, abstol: 1e-10, dt: 1))
        #expect(adaptive.retcode == .success && adaptive.stats.nreject >= 1)
        #expect(abs(adaptive.u.last![0] / exp(8.0) - 1) < 1e-6)

        let fast = ODEProblem(
            ClosureRHS<Double>({ du, u, _, _ in du[0] = 32 * u[0] }, jacobian: { J, _, _, _ in J[0] = 32 }, sparsity: one), u0: [1.0],
            tspan: (0, 0.25))
        let kencarp = try KenCarp4(linearSolver: .sparseLU).solve(fast, options: SolveOptions(dt: 0.125, adaptive: false))
        #expect(kencarp.retcode == .convergenceFailure)
        #expect(kencarp.message?.contains("KenCarp4") == true && kencarp.message?.contains("singular") == true)
    }

    @Test func sparseLUWithoutAPatternIsRefused() throws {
        let prob = ODEProblem(ClosureRHS<Double>({ du, u, _, _ in du[0] = -u[0] }), u0: [1.0], tspan: (0, 1))
        #expect(throws: DiffEqError.self) { try Rodas5P(linearSolver: .sparseLU).solve(prob, options: SolveOptions()) }
        #expect(throws: DiffEqError.self) { try TRBDF2(linearSolver: .sparseLU).solve(prob, options: SolveOptions()) }
        #expect(throws: DiffEqError.self) { try KenCarp4(linearSolver: .gmres(GMRESOptions(restart: 0))).solve(prob, options: SolveOptions()) }
        #expect(throws: DiffEqError.self) { try Rodas5P(linearSolver: .gmres(GMRESOptions(tolerance: .nan))).solve(prob, options: SolveOptions()) }
    }

    /// A preconditioner that returns NaN, and one whose setup fails: the solve ends with
    /// `.convergenceFailure` and a message naming the preconditioner, never a crash or a NaN
    /// state.
    struct NaNPreconditioner: GMRESPreconditioner {
        func setup(t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double], alpha: Double, beta: Double)
            throws(GMRESPreconditionerFailure) {}
        func solve(_ r: UnsafeMutableBufferPointer<Double>) { for i in r.indices { r[i] = .nan } }
    }
    struct FailingPreconditioner: GMRESPreconditioner {
        func setup(t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double], alpha: Double, beta: Double)
            throws(GMRESPreconditionerFailure) { throw GMRESPreconditionerFailure("no blocks today") }
        func solve(_ r: UnsafeMutableBufferPointer<Double>) {}
    }

    @Test(arguments: [StiffMethodWithSolver.rodas5P, .kenCarp4])
    func badPreconditionerIsAConvergenceFailure(method: StiffMethodWithSolver) throws {
        let (prob, _) = try Self.brusselator(3)
        let nan = try method.solve(prob, options: SolveOptions(), linearSolver: .gmres(preconditioner: NaNPreconditioner()))
        #expect(nan.retcode == .convergenceFailure)
        #expect(nan.message?.contains("preconditioner returned NaN") == true, "\(nan.message ?? "")")
        #expect(nan.u.last!.allSatisfy { $0.isFinite })
        let failing = try method.solve(prob, options: SolveOptions(), linearSolver: .gmres(preconditioner: FailingPreconditioner()))
        #expect(failing.retcode == .convergenceFailure)
        #expect(failing.message?.contains("no blocks today") == true, "\(failing.message ?? "")")
    }
}
