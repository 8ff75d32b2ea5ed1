import Glibc
import Testing
import DiffEqCore
import AutoDiff
import ExplicitRK
import ProblemLibrary
import Sensitivity

private struct Growth: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { du[0] = p[0] * u[0] }
}

@Suite struct ThroughSolverTests {
    @Test func linearGrowthDerivativeIsExact() throws {
        // u' = a u, u(0) = 1: u(t) = e^(a t), du/da = t e^(a t).
        let a = 0.7
        typealias D = Dual<1, Double>
        let prob = ODEProblem(model: Growth(), u0: [D(1)], tspan: (0, 2), p: [D(a, seed: 0)])
        let sol = try solve(prob, Tsit5(), reltol: 1e-12, abstol: 1e-12, saveat: .every(0.5))
        #expect(sol.retcode == .success)
        for (t, u) in zip(sol.t, sol.u) {
            let exact = t * Glibc.exp(a * t)
            #expect(abs(u[0].partials[0] - exact) <= 1e-10 * max(1, exact), "t = \(t)")
            #expect(abs(u[0].value - Glibc.exp(a * t)) <= 1e-10 * Glibc.exp(a * t))
        }
    }

    @Test func lotkaVolterraSensitivitiesMatchCentralDifferences() throws {
        // Derivatives of u(10) w.r.t. the 4 parameters and 2 initial values in one dual solve.
        typealias D = Dual<6, Double>
        let p0 = [1.5, 1.0, 3.0, 1.0], u00 = [1.0, 1.0]
        let pd = (0..<4).map { D(p0[$0], seed: $0) }
        let ud = (0..<2).map { D(u00[$0], seed: 4 + $0) }
        let prob = ODEProblem(model: LotkaVolterra(), u0: ud, tspan: (0, 10), p: pd)
        let sol = try solve(prob, Tsit5(), reltol: 1e-11, abstol: 1e-11, saveEverystep: false)
        let end = sol.u.last!
        func endState(p: [Double], u0: [Double]) throws -> [Double] {
            let problem = ODEProblem(model: LotkaVolterra(), u0: u0, tspan: (0, 10), p: p)
            let sol = try solve(problem, Tsit5(), reltol: 1e-13, abstol: 1e-13, saveEverystep: false)
            return sol.u.last!
        }
        for k in 0..<6 {
            let h = 1e-4
            var plus = p0 + u00, minus = p0 + u00
            plus[k] += h
            minus[k] -= h
            let up = try endState(p: Array(plus[0..<4]), u0: Array(plus[4...]))
            let um = try endState(p: Array(minus[0..<4]), u0: Array(minus[4...]))
            for i in 0..<2 {
                let fd = (up[i] - um[i]) / (2 * h)
                let ad = end[i].partials[k]
                #expect(abs(ad - fd) <= 1e-6 * max(abs(fd), 1e-3 * (1 + abs(end[i].value))), "d u\(i)/d x\(k): AD \(ad), FD \(fd)")
            }
        }
    }

    @Test func stepControlSeesThePartials() throws {
        // The same problem with duals takes at least as many steps: the error norm includes the
        // derivative components, which can need smaller steps than the values alone.
        typealias D = Dual<4, Double>
        let plain = try solve(TestProblems.lotkaVolterra(), Tsit5(), reltol: 1e-6, abstol: 1e-6)
        let pd = (0..<4).map { D([1.5, 1, 3, 1][$0], seed: $0) }
        let dual = try solve(ODEProblem(model: LotkaVolterra(), u0: [D(1), D(1)], tspan: (0, 10), p: pd), Tsit5(), reltol: 1e-6, abstol: 1e-6)
        #expect(dual.stats.naccept >= plain.stats.naccept)
        #expect(dual.retcode == .success)
    }

    @Test func timeSpanThatDependsOnParameters() throws {
        // u' = a u on [0, T(p)] with T = p[1]: d u(T)/dp = ∂u/∂p + f(u(T)) dT/dp.
        // Exact: u = e^(a T): d/da = T e^(aT), d/dT = a e^(aT).
        let (a, T) = (0.4, 1.7)
        let result = try endStateDerivatives(
            model: Growth(), u0: [1.0], p: [a, T], tspan: { p in (0, p[1]) },
            tspanDerivative: { p in (start: [0, 0], end: [0, 1]) }, algorithm: Tsit5(),
            options: SolveOptions(reltol: 1e-12, abstol: 1e-12))
        #expect(abs(result.jacobian[0, 0] - T * Glibc.exp(a * T)) < 1e-9)
        #expect(abs(result.jacobian[0, 1] - a * Glibc.exp(a * T)) < 1e-9)
    }
}
