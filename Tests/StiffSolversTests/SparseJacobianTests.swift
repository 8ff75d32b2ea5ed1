import DiffEqCore
import ProblemLibrary
import StiffSolvers
import Testing

/// Sparse Jacobians by column colouring (issue #20, item 1): the coloured evaluation equals
/// the dense one entry for entry, so every stiff method takes the same steps with far fewer
/// evaluations of `f`.
@Suite struct SparseJacobianTests {
    /// The 2-D Brusselator's pattern from its stencil (ProblemLibrary.Brusselator2D): `u`'s
    /// equation in cell `c` reads `u` at `c` and its four periodic neighbours and `v` at `c`;
    /// `v`'s reads `u` at `c`, `v` at `c` and its neighbours.
    static func brusselatorPattern(_ N: Int) throws -> SparsityPattern {
        let cells = N * N
        var entries: [(row: Int, column: Int)] = []
        for j in 0..<N {
            for i in 0..<N {
                let c = i + N * j
                let neighbours = [
                    c, (i + 1) % N + N * j, (i + N - 1) % N + N * j, i + N * ((j + 1) % N), i + N * ((j + N - 1) % N),
                ]
                for k in neighbours {
                    entries.append((c, k))
                    entries.append((cells + c, cells + k))
                }
                entries.append((c, cells + c))
                entries.append((cells + c, c))
            }
        }
        return try SparsityPattern(rows: 2 * cells, columns: 2 * cells, entries: entries)
    }

    /// The model with a declared sparse structure.
    struct SparseBrusselator: ODEModel {
        let base: Brusselator2D
        let pattern: SparsityPattern
        func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { base.rhs(&du, u, p, t) }
        var isAutonomous: Bool { true }
        var jacobianStructure: JacobianStructure { .sparse(pattern) }
    }

    static func closure(_ model: Brusselator2D, sparsity: SparsityPattern?) -> ClosureRHS<Double> {
        ClosureRHS({ du, u, p, t in model.rhs(&du, u, p, t) }, autonomous: true, sparsity: sparsity)
    }

    /// Entry for entry, bit for bit: forward-mode AD (exact) coloured against dense, and forward
    /// and central differences coloured against dense (same increments, and `f_i` reads no
    /// other column of a colour). A point away from the initial state, and a tiny component so
    /// that the rounding retries run.
    @Test(arguments: [3, 4, 6])
    func colouredJacobianEqualsTheDenseOne(N: Int) throws {
        let model = Brusselator2D(gridSize: N)
        let pattern = try Self.brusselatorPattern(N)
        let n = model.stateCount
        let coloring = pattern.columnColoring()
        #expect(coloring.count < n)
        // A valid colouring: no two columns of one colour share a row.
        for i in 0..<n {
            var seen = Set<Int>()
            for j in 0..<n where pattern.contains(row: i, column: j) { #expect(seen.insert(coloring.colors[j]).inserted) }
        }
        var u = model.initialState.enumerated().map { $0.element + 0.01 * Double($0.offset % 7) }
        u[1] = 1e-14
        let p = model.nominalParameters
        let tolerance = ErrorScale(reltol: 1e-6, abstol: [Double](repeating: 1e-10, count: n))
        func jacobian<F: ODEFunction>(_ f: F, _ source: JacobianSource, _ structure: JacobianStructure) -> ([Double], Int)
        where F.Scalar == Double {
            var evaluator = JacobianEvaluator(f, count: n, source: source, structure: structure)
            var fu = [Double](repeating: 0, count: n)
            f(&fu, u, p, 0)
            var J = [Double](repeating: 0, count: evaluator.storageCount)
            var stats = SolverStats()
            evaluator.evaluate(f, p, t: 0, u: u, fu: fu, h: 1e-3, tolerance: tolerance, into: &J, stats: &stats)
            return (J, stats.nf)
        }
        let generic = GenericRHS(SparseBrusselator(base: model, pattern: pattern), as: Double.self)
        let genericDense = GenericRHS(model, as: Double.self)
        let (adSparse, _) = jacobian(generic, .automatic, .sparse(pattern))
        let (adDense, _) = jacobian(genericDense, .automatic, .dense)
        #expect(adSparse == adDense)
        #expect(pattern.missingEntries(of: adDense).isEmpty)
        for source in [JacobianSource.finiteDifferences, .centralDifferences] {
            let (sparse, nfSparse) = jacobian(Self.closure(model, sparsity: pattern), source, .sparse(pattern))
            let (dense, nfDense) = jacobian(Self.closure(model, sparsity: nil), source, .dense)
            #expect(sparse == dense, "\(source)")
            #expect(nfSparse < nfDense, "\(source): \(nfSparse) vs \(nfDense) evaluations")
        }
    }

    /// Every native stiff method on the closure form: with the pattern declared, the same
    /// solution bit for bit (the Jacobians are), with fewer evaluations of `f`.
    @Test(arguments: StiffMethod.allCases)
    func everyStiffMethodTakesTheSameStepsWithFewerEvaluations(_ method: StiffMethod) throws {
        let model = Brusselator2D(gridSize: 4)
        let pattern = try Self.brusselatorPattern(4)
        func problem(_ sparsity: SparsityPattern?) -> ODEProblem<ClosureRHS<Double>> {
            ODEProblem(Self.closure(model, sparsity: sparsity), u0: model.initialState, tspan: (0, 1), p: model.nominalParameters)
        }
        let sparse = try method.solve(problem(pattern), reltol: 1e-6, abstol: 1e-8)
        let dense = try method.solve(problem(nil), reltol: 1e-6, abstol: 1e-8)
        #expect(sparse.retcode == .success)
        #expect(sparse.u == dense.u)
        #expect(sparse.stats.naccept == dense.stats.naccept)
        #expect(sparse.stats.nf < dense.stats.nf, "\(sparse.stats.nf) vs \(dense.stats.nf)")
    }

    @Test func badPatternsAreRefusedOrFound() throws {
        let model = Brusselator2D(gridSize: 3)
        // Wrong size: refused before any work.
        let wrong = try Self.brusselatorPattern(2)
        let problem = ODEProblem(
            Self.closure(model, sparsity: wrong), u0: model.initialState, tspan: (0, 1), p: model.nominalParameters)
        #expect(throws: DiffEqError.self) { _ = try Rodas5P().solve(problem, options: SolveOptions()) }
        #expect(throws: DiffEqError.self) { _ = try KenCarp4().solve(problem, options: SolveOptions()) }
        // Out-of-range entries: refused when the pattern is built.
        #expect(throws: DiffEqError.self) { _ = try SparsityPattern(rows: 2, columns: 2, entries: [(0, 2)]) }
        #expect(throws: DiffEqError.self) { _ = try SparsityPattern(columns: 2, rowColumns: [[0], [-1]]) }
        // A pattern missing a nonzero: found against the dense Jacobian.
        let full = try Self.brusselatorPattern(3)
        var entries: [(row: Int, column: Int)] = []
        for j in 0..<full.columns {
            for k in full.columnStart[j]..<full.columnStart[j + 1] where !(full.rowIndices[k] == 0 && j == 1) {
                entries.append((full.rowIndices[k], j))
            }
        }
        let missing = try SparsityPattern(rows: full.rows, columns: full.columns, entries: entries)
        var J = [Double](repeating: 0, count: model.stateCount * model.stateCount)
        GenericRHS(model, as: Double.self).forwardModeJacobian(&J, model.initialState, model.nominalParameters, 0)
        let lost = missing.missingEntries(of: J)
        #expect(lost.count == 1 && lost.first?.row == 0 && lost.first?.column == 1)
    }
}
