import DiffEqCore
import ProblemLibrary
import SundialsBridge
import Testing

/// CVODE's linear-solver choice (`CVODE_BDF(linearSolver:)`) on the 2-D Brusselator (N = 8:
/// 128 states, 768 nonzeros): dense, KLU with the analytic sparse Jacobian, KLU with coloured
/// differences, and GMRES, against each other; and bad input.
@Suite struct LinearSolverTests {
    static let model = Brusselator2D(gridSize: 8)

    static func problem() -> ODEProblem<GenericRHS<Brusselator2D, Double>> {
        ODEProblem(model: model, u0: model.initialState, tspan: (0, 1), p: model.nominalParameters)
    }

    static var pattern: CVODESparsityPattern {
        let (starts, rows) = model.jacobianPattern
        return CVODESparsityPattern(count: model.stateCount, columnStarts: starts, rowIndices: rows)
    }

    static func analyticJacobian() -> CVODESparseJacobian {
        let model = model
        let (starts, rows) = model.jacobianPattern
        return CVODESparseJacobian(pattern: pattern) { values, u, p, _ in
            model.jacobianValues(values, columnStarts: starts, rowIndices: rows, u, p)
        }
    }

    static func maxRelativeDifference(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { abs($0 - $1) / max(abs($1), 1e-3) }.max() ?? .infinity
    }

    // At reltol 1e-8 each solve is within about 1e-7 of the solution at t = 1 (a local-error
    // tolerance, a few hundred steps); the linear solver changes only how each Newton step is
    // solved, so they agree to 1e-6.
    @Test func kluColouredDifferencesAndGMRESAgreeWithDense() throws {
        let options = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveEverystep: false)
        let dense = try CVODE_BDF().solve(Self.problem(), options: options)
        #expect(dense.retcode == .success)
        let reference = try #require(dense.u.last)
        let solvers: [(String, CVODELinearSolver)] = [
            ("KLU analytic", .klu(Self.analyticJacobian())),
            ("KLU coloured differences", .klu(CVODESparseJacobian(pattern: Self.pattern))),
            ("GMRES unpreconditioned", .gmres(CVODEKrylov(maxKrylovDimension: 30))),
        ]
        for (name, linearSolver) in solvers {
            let sol = try CVODE_BDF(linearSolver: linearSolver).solve(Self.problem(), options: options)
            #expect(sol.retcode == .success, "\(name): \(sol.message ?? "")")
            let u = try #require(sol.u.last)
            #expect(Self.maxRelativeDifference(u, reference) < 1e-6, "\(name)")
        }
        // Adams with Newton iteration takes the same choice.
        let adams = try CVODE_Adams(nonlinearSolver: .newton, linearSolver: .klu(Self.analyticJacobian()))
            .solve(Self.problem(), options: options)
        #expect(adams.retcode == .success)
        #expect(Self.maxRelativeDifference(try #require(adams.u.last), reference) < 1e-6)
    }

    @Test func kluStatisticsCountTheSparseWork() throws {
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-8, saveEverystep: false)
        let analytic = try CVODE_BDF(linearSolver: .klu(Self.analyticJacobian())).solve(Self.problem(), options: options)
        #expect(analytic.stats.njacs > 0)
        #expect(analytic.stats.njacsFiniteDifference == 0)
        #expect(analytic.stats.nluFactorizations > 0)
        let differenced = try CVODE_BDF(linearSolver: .klu(CVODESparseJacobian(pattern: Self.pattern)))
            .solve(Self.problem(), options: options)
        #expect(differenced.stats.njacsFiniteDifference == differenced.stats.njacs)
        #expect(differenced.stats.njacs > 0)
        // A five-point stencil on a periodic 8 x 8 grid, u and v coupled in each cell: the
        // greedy colouring needs a handful of colours, far fewer than the 128 columns.
        let perJacobian = Double(differenced.stats.nf - analytic.stats.nf) / Double(differenced.stats.njacs)
        #expect(perJacobian < 20)
    }

    @Test func patternsBuiltFromColumnsMatchTheCSCArrays() {
        let byColumns = CVODESparsityPattern(columns: [[1, 0, 0], [1], [2, 0]])
        #expect(byColumns == CVODESparsityPattern(count: 3, columnStarts: [0, 2, 3, 5], rowIndices: [0, 1, 1, 0, 2]))
        #expect(byColumns.nonzeroCount == 5)
    }

    // MARK: Bad input: typed errors before any work

    static func expectError(_ algorithm: CVODE_BDF, _ check: (DiffEqError) -> Bool) {
        do {
            _ = try algorithm.solve(problem(), options: SolveOptions())
            Issue.record("expected an error")
        } catch {
            #expect(check(error), "\(error)")
        }
    }

    @Test func patternOfTheWrongSizeIsATypedError() {
        let small = CVODESparsityPattern(columns: (0..<10).map { [$0] })
        Self.expectError(CVODE_BDF(linearSolver: .klu(CVODESparseJacobian(pattern: small)))) {
            if case .dimensionMismatch(_, let expected, let got) = $0 { return expected == 128 && got == 10 }
            return false
        }
    }

    @Test func malformedPatternsAreTypedErrors() {
        let n = Self.model.stateCount
        let malformed: [CVODESparsityPattern] = [
            // Rows out of order in column 0.
            CVODESparsityPattern(count: n, columnStarts: [0, 2] + (2...n).map { $0 }, rowIndices: [1, 0] + (1..<n).map { $0 }),
            // A row outside the matrix.
            CVODESparsityPattern(count: n, columnStarts: Array(0...n), rowIndices: [n] + (1..<n).map { $0 }),
            // Column starts that do not end at the number of nonzeros.
            CVODESparsityPattern(count: n, columnStarts: Array(0...n), rowIndices: Array(0..<(n - 1))),
        ]
        for pattern in malformed {
            Self.expectError(CVODE_BDF(linearSolver: .klu(CVODESparseJacobian(pattern: pattern)))) {
                if case .invalidStepOption(let why) = $0 { return why.contains("sparsity pattern") }
                return false
            }
        }
        Self.expectError(CVODE_BDF(linearSolver: .klu(CVODESparseJacobian(pattern: CVODESparsityPattern(count: n, columnStarts: [0], rowIndices: []))))) {
            if case .dimensionMismatch = $0 { return true }
            return false
        }
    }

    @Test func invalidKrylovSettingsAreTypedErrors() {
        Self.expectError(CVODE_BDF(linearSolver: .gmres(CVODEKrylov(maxKrylovDimension: 0)))) {
            if case .invalidStepOption(let why) = $0 { return why.contains("maxKrylovDimension") }
            return false
        }
        Self.expectError(CVODE_BDF(linearSolver: .gmres(CVODEKrylov(linearToleranceFactor: .nan)))) {
            if case .invalidStepOption(let why) = $0 { return why.contains("linearToleranceFactor") }
            return false
        }
        let leftPreconditioned = CVODEKrylov(side: .left, preconditioner: { NaNPreconditioner() })
        Self.expectError(CVODE_BDF(linearSolver: .flexibleGMRES(leftPreconditioned))) {
            if case .invalidStepOption(let why) = $0 { return why.contains("SPFGMR") }
            return false
        }
        Self.expectError(CVODE_BDF(nonlinearSolver: .fixedPoint, linearSolver: .klu(Self.analyticJacobian()))) {
            if case .invalidStepOption(let why) = $0 { return why.contains("fixedPoint") }
            return false
        }
    }

    // MARK: Bad callbacks: a return code with the reason and SUNDIALS' message

    /// A GMRES solve with a preconditioner that fails: it must stop with `.failure` and a
    /// message; returns the solution and the message.
    static func failedGMRESSolve(
        preconditioner: @escaping @Sendable () -> any CVODEPreconditioner
    ) throws -> (solution: ODESolution<Double>, message: String) {
        let sol = try CVODE_BDF(linearSolver: .gmres(CVODEKrylov(preconditioner: preconditioner)))
            .solve(problem(), options: SolveOptions())
        #expect(sol.retcode == .failure)
        return (sol, try #require(sol.message))
    }

    @Test func preconditionerReturningNaNStopsWithAMessage() throws {
        let (sol, message) = try Self.failedGMRESSolve { NaNPreconditioner() }
        #expect(message.contains("preconditioner's solve returned nan"), "\(message)")
        #expect(message.contains("CV_LSOLVE_FAIL"), "\(message)")
        // It stops in the first steps.
        #expect(try #require(sol.t.last) < 1e-6)
    }

    @Test func preconditionerThatThrowsStopsWithItsError() throws {
        let (_, message) = try Self.failedGMRESSolve { FailingPreconditioner() }
        #expect(message.contains("no factorization today"), "\(message)")
        #expect(message.contains("CV_LSETUP_FAIL"), "\(message)")
    }

    // A pattern that misses nonzeros (here: only the diagonal of a diffusion problem) would
    // give CVODE a wrong Newton matrix. Measured without the check: the solve returned
    // success with a final state more than 1e-4 (relative) off the dense solve's at reltol 1e-6
    // (the corrector's convergence test assumes a good matrix). The check solve at u0 refuses it before any work, naming the row; as it
    // does wrong values of a user's Jacobian.
    @Test func patternMissingNonzerosIsRefusedByTheCheckSolve() {
        let diagonal = CVODESparsityPattern(columns: (0..<Self.model.stateCount).map { [$0] })
        for jacobian in [
            CVODESparseJacobian(pattern: diagonal),
            CVODESparseJacobian(pattern: Self.pattern) { values, _, _, _ in
                for k in 0..<values.count { values[k] = 1 }
            },
        ] {
            Self.expectError(CVODE_BDF(linearSolver: .klu(jacobian))) {
                if case .invalidStepOption(let why) = $0 { return why.contains("misses a nonzero") }
                return false
            }
        }
    }
}

final class NaNPreconditioner: CVODEPreconditioner {
    func setup(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double], mayReuseJacobian: Bool,
        gamma: Double
    ) throws -> Bool { true }

    func solve(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double], r: UnsafeBufferPointer<Double>,
        z: UnsafeMutableBufferPointer<Double>, gamma: Double, delta: Double, left: Bool
    ) throws {
        for i in 0..<z.count { z[i] = r[i] }
        z[3] = .nan
    }
}

struct NoFactorization: Error, CustomStringConvertible {
    var description: String { "no factorization today" }
}

final class FailingPreconditioner: CVODEPreconditioner {
    func setup(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double], mayReuseJacobian: Bool,
        gamma: Double
    ) throws -> Bool { throw NoFactorization() }

    func solve(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double], r: UnsafeBufferPointer<Double>,
        z: UnsafeMutableBufferPointer<Double>, gamma: Double, delta: Double, left: Bool
    ) throws {}
}
