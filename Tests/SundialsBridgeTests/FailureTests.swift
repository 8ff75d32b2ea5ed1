import DiffEqCore
import Glibc
import SundialsBridge
import Testing

@Suite struct FailureTests {
    // ROBER is stiff: Adams with fixed-point iteration is limited by stability to steps near
    // 1/‖J‖ and would need about 1e15 steps to reach 1e11 (measured: 5000 steps reach
    // t ≈ 1.8). A low step limit keeps the test fast.
    @Test func roberWithAdamsStallsAndKeepsThePartialSolution() throws {
        let sol = try solve(roberProblem(), CVODE_Adams(), options: SolveOptions(maxiters: 2000))
        #expect(sol.retcode == .maxIters)
        #expect(!sol.retcode.isSuccessful)
        #expect(!(sol.message ?? "").isEmpty)
        #expect(sol.stats.naccept == 2000)
        #expect(sol.t.count == 2001)
        let last = try #require(sol.t.last)
        #expect(last > 0 && last < 1e11)
        #expect(sol.u.last!.allSatisfy { $0.isFinite })
        // The dense output covers what was computed.
        let middle = try sol(last / 2)
        #expect(middle.count == 3)
    }

    @Test func maxNumStepsOverridesMaxiters() throws {
        let sol = try solve(roberProblem(), CVODE_BDF(maxNumSteps: 10), options: SolveOptions(maxiters: 100_000))
        #expect(sol.retcode == .maxIters)
        #expect(sol.stats.naccept == 10)
        // Only the start and the point reached are saved when every step is not wanted.
        let ends = try solve(
            roberProblem(), CVODE_BDF(maxNumSteps: 10), options: SolveOptions(saveEverystep: false))
        #expect(ends.t.count == 2)
        #expect(ends.t[1] > 0 && ends.t[1] < 1e11)
    }

    @Test(arguments: Method.allCases)
    func nanFromFIsUnstable(method: Method) throws {
        let prob = ODEProblem(
            f: { (du: inout [Double], u: [Double], _: [Double], t: Double) in du[0] = t > 1 ? .nan : -u[0] },
            u0: [1.0], tspan: (0, 2))
        let sol = try method.algorithm.solve(prob, options: SolveOptions(reltol: 1e-8, abstol: 1e-10))
        #expect(sol.retcode == .unstable)
        #expect(sol.message?.contains("NaN") == true)
        // The solve keeps what it computed, up to the wall of NaNs at t = 1.
        let last = try #require(sol.t.last)
        #expect(abs(last - 1) < 1e-6)
        #expect(relativeError(sol.u.last![0], exp(-1.0)) < 1e-6)
        #expect(sol.t.count > 2)
    }

    @Test(arguments: Method.allCases)
    func nanAtTheStartIsUnstableWithTheSundialsMessage(method: Method) throws {
        let prob = ODEProblem(
            f: { (du: inout [Double], _: [Double], _: [Double], _: Double) in du[0] = .infinity },
            u0: [1.0], tspan: (0, 1))
        let sol = try method.algorithm.solve(prob, options: SolveOptions())
        #expect(sol.retcode == .unstable)
        let message = try #require(sol.message)
        #expect(message.contains("CV_FIRST_RHSFUNC_ERR"))
        #expect(message.contains("CVode"))
        #expect(sol.t == [0])
        #expect(sol.u == [[1]])
    }

    @Test func errorTestFailureAtDtminIsDtLessThanMin() throws {
        // Newton solves the linear decay exactly, so at h = hmin = 1.5 only the error test can
        // fail: CV_ERR_FAILURE.
        let sol = try solve(
            decayProblem(), CVODE_BDF(), options: SolveOptions(reltol: 1e-12, abstol: 1e-14, dtmin: 1.5))
        #expect(sol.retcode == .dtLessThanMin)
        let message = try #require(sol.message)
        #expect(message.contains("CV_ERR_FAILURE"))
        #expect(message.contains("error test failed"))
        #expect(sol.t == [0])
    }

    @Test func fixedPointFailureAtDtminIsConvergenceFailure() throws {
        let sol = try solve(
            decayProblem(), CVODE_Adams(), options: SolveOptions(reltol: 1e-12, abstol: 1e-14, dtmin: 1.5))
        #expect(sol.retcode == .convergenceFailure)
        #expect(sol.message?.contains("CV_CONV_FAILURE") == true)
    }

    @Test func invalidInputThrowsBeforeAnyWork() throws {
        let counter = CallCounter()
        let prob = decayProblem(counter: counter)
        #expect(throws: DiffEqError.dimensionMismatch(what: "abstol", expected: 1, got: 2)) {
            try solve(prob, CVODE_BDF(), options: SolveOptions(abstol: [1e-6, 1e-6]))
        }
        #expect(throws: DiffEqError.invalidRelativeTolerance(-1e-6)) {
            try solve(prob, CVODE_Adams(), options: SolveOptions(reltol: -1e-6))
        }
        #expect(throws: DiffEqError.invalidAbsoluteTolerance(component: 0, value: 0)) {
            try solve(prob, CVODE_Adams(), options: SolveOptions(abstol: 0))
        }
        #expect(throws: DiffEqError.invalidTimeSpan(t0: 1, t1: 1)) {
            try solve(decayProblem(tspan: (1, 1), counter: counter), CVODE_BDF(), options: SolveOptions())
        }
        #expect(throws: DiffEqError.self) { try solve(prob, CVODE_BDF(maxOrder: 6), options: SolveOptions()) }
        #expect(throws: DiffEqError.self) { try solve(prob, CVODE_Adams(maxOrder: 0), options: SolveOptions()) }
        #expect(throws: DiffEqError.self) { try solve(prob, CVODE_Adams(maxNumSteps: 0), options: SolveOptions()) }
        #expect(counter.count == 0)
        // The same problem with valid input runs.
        #expect(try solve(prob, CVODE_BDF(), options: SolveOptions()).retcode == .success)
        #expect(counter.count > 0)
    }

    @Test func fixedStepsAreUnsupported() throws {
        let counter = CallCounter()
        #expect {
            try solve(decayProblem(counter: counter), CVODE_BDF(), options: SolveOptions(dt: 0.1, adaptive: false))
        } throws: { error in
            if case .unsupported = error as? DiffEqError { return true }
            return false
        }
        #expect(counter.count == 0)
    }

    @Test func otherScalarsAreUnsupported() throws {
        let prob = ODEProblem(
            f: { (du: inout [WrappedReal], u: [WrappedReal], _: [WrappedReal], _: WrappedReal) in du[0] = -u[0] },
            u0: [WrappedReal(1)], tspan: (0, 1))
        #expect {
            try solve(prob, CVODE_BDF(), options: SolveOptions())
        } throws: { error in
            guard case .unsupported(let why) = error as? DiffEqError else { return false }
            return why.contains("Double or Float")
        }
    }
}
