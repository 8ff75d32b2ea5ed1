import DiffEqCore
import Glibc
import SundialsBridge
import Testing

@Suite struct OutputTests {
    @Test(arguments: Method.allCases)
    func saveatPointsMatchTheDenseOutput(method: Method) throws {
        let sol = try method.algorithm.solve(
            lotkaVolterraProblem(),
            options: SolveOptions(reltol: 1e-10, abstol: 1e-12, saveat: .every(0.1), dense: true))
        #expect(sol.retcode == .success)
        #expect(sol.t.count == 101)
        for (k, t) in sol.t.enumerated() {
            #expect(abs(t - 0.1 * Double(k)) < 1e-12)
        }
        // The same polynomial of the same steps: CVODE's own (saveat through CVodeGetDky, dense
        // from the Nordsieck array), equal to rounding.
        for (t, u) in zip(sol.t, sol.u) {
            let v = try sol(t)
            #expect(abs(v[0] - u[0]) < 1e-13 * abs(u[0]) && abs(v[1] - u[1]) < 1e-13 * abs(u[1]))
        }
    }

    @Test(arguments: Method.allCases)
    func saveatOnDecayIsAccurate(method: Method) throws {
        let times = [1.7, 0.25, 1.0, 2.0]
        let sol = try method.algorithm.solve(
            decayProblem(), options: SolveOptions(reltol: 1e-10, abstol: 1e-12, saveat: .times(times)))
        #expect(sol.t == times.sorted())
        #expect(sol.denseOutput == nil)
        for (t, u) in zip(sol.t, sol.u) {
            #expect(relativeError(u[0], exp(-0.5 * t)) < 1e-7)
        }
    }

    @Test func backwardSaveat() throws {
        let sol = try solve(
            decayProblem(u0: exp(-1.0), tspan: (2, 0)), CVODE_BDF(),
            options: SolveOptions(reltol: 1e-10, abstol: 1e-12, saveat: .every(0.5)))
        #expect(sol.t == [2, 1.5, 1, 0.5, 0])
        for (t, u) in zip(sol.t, sol.u) {
            #expect(relativeError(u[0], exp(-0.5 * t)) < 1e-7)
        }
    }

    @Test(arguments: Method.allCases)
    func denseOutputFollowsTheAnalyticSolution(method: Method) throws {
        let sol = try method.algorithm.solve(decayProblem(), options: SolveOptions(reltol: 1e-10, abstol: 1e-12))
        let dense = try #require(sol.denseOutput)
        #expect(dense.domain == (0, 2))
        // CVODE's polynomial between the steps.
        for k in 0...200 {
            let t = Double(k) / 100
            #expect(abs(try sol(t)[0] - exp(-0.5 * t)) < 1e-7)
        }
        #expect(throws: InterpolationError.self) { try sol(2.5) }
    }

    @Test(arguments: Method.allCases)
    func tstopsAreSteppedOntoExactly(method: Method) throws {
        let sol = try method.algorithm.solve(
            decayProblem(), options: SolveOptions(reltol: 1e-8, abstol: 1e-10, tstops: [1.25, 0.5, 7]))
        #expect(sol.retcode == .success)
        #expect(sol.t.contains(0.5) && sol.t.contains(1.25))
        #expect(sol.t.last == 2)
        #expect(zip(sol.t, sol.t.dropFirst()).allSatisfy { $0 < $1 })
        let i = try #require(sol.t.firstIndex(of: 1.25))
        #expect(relativeError(sol.u[i][0], exp(-0.625)) < 1e-6)
    }

    @Test func aDiscontinuityAtATstopIsResolved() throws {
        // u' = -u before t = 1 and u' = +u after: u(2) = e^-1 · e^1 = 1.
        let prob = ODEProblem(
            f: { (du: inout [Double], u: [Double], _: [Double], t: Double) in du[0] = t < 1 ? -u[0] : u[0] },
            u0: [1.0], tspan: (0, 2))
        let sol = try solve(prob, CVODE_BDF(), options: SolveOptions(reltol: 1e-10, abstol: 1e-12, tstops: [1]))
        #expect(sol.retcode == .success)
        #expect(relativeError(sol.u.last![0], 1) < 1e-7)
    }

    @Test func onlyTheEndsWhenEveryStepIsNotSaved() throws {
        let sol = try solve(decayProblem(), CVODE_Adams(), options: SolveOptions(saveEverystep: false))
        #expect(sol.t == [0, 2])
        #expect(sol.denseOutput == nil)
        // Default tolerances (reltol 1e-3): measured 9e-4.
        #expect(relativeError(sol.u[1][0], exp(-1.0)) < 1e-2)
    }
}
