import DiffEqCore
import Ensembles
import ExplicitRK
import Foundation
import Testing

@Suite struct EnsembleSummaryTests {
    @Test func statisticsMatchHandComputedValues() throws {
        // Four trajectories, one component, two times: values 1, 2, 3, 4 and 10, 10, 10, 10.
        let values: [[[Double]]] = [[[1], [10]], [[4], [10]], [[2], [10]], [[3], [10]]]
        let s = try EnsembleSummary(times: [0, 1], values: values, levels: [0.05, 0.5, 1])
        #expect(s.mean[0][0] == 2.5 && s.mean[1][0] == 10)
        // Unbiased variance of 1..4: ((1.5² + 0.5²)·2)/3 = 5/3.
        #expect(abs(s.variance[0][0] - 5.0 / 3) < 1e-15 && s.variance[1][0] == 0)
        // Type 7 quantiles: h = 3q; q = 0.05 -> 1 + 0.15·(2 - 1) = 1.15; q = 0.5 -> 2.5; q = 1 -> 4.
        #expect(abs(s.quantiles[0][0][0] - 1.15) < 1e-15)
        #expect(s.quantiles[1][0][0] == 2.5 && s.quantiles[2][0][0] == 4)
        #expect(throws: EnsembleError.self) { try EnsembleSummary(times: [0], values: values) }
        #expect(throws: EnsembleError.self) { try EnsembleSummary(times: [0, 1], values: values, levels: [1.5]) }
    }

    @Test func summaryOfSolutionsAgreesWithTheAnalyticMeanAndLeavesOutFailures() throws {
        // u' = -k u, u(0) = 1, k = 1 + i/(m-1) for i = 0..<m: the mean at t is
        // (1/m) Σ exp(-k_i t), computed here in closed form per member.
        let m = 21
        let prob = ODEProblem(f: { du, u, p, _ in du[0] = -p[0] * u[0] }, u0: [1.0], tspan: (0, 2), p: [1.0])
        let ensemble = EnsembleProblem(prob, probFunc: { prob, ctx in
            ctx.index == m ? prob.remake(p: [.nan]) : prob.remake(p: [1 + Double(ctx.index) / Double(m - 1)])
        })
        let sim = try solve(
            ensemble, Tsit5(), EnsembleThreads(2), trajectories: m + 1,
            options: SolveOptions(reltol: 1e-10, abstol: 1e-12, saveat: .every(0.5)))
        let s = try EnsembleSummary(sim.u)
        #expect(s.excluded == [m])
        #expect(s.count == m)
        for (k, t) in s.times.enumerated() {
            var exact = 0.0
            for i in 0..<m { exact += Foundation.exp(-(1 + Double(i) / Double(m - 1)) * t) }
            exact /= Double(m)
            #expect(abs(s.mean[k][0] - exact) < 1e-8, "t = \(t)")
            #expect(s.quantiles[0][k][0] <= s.mean[k][0] && s.mean[k][0] <= s.quantiles[2][k][0])
        }
        let script = try s.gnuplotBandScript(component: 0, png: "band.png", title: "decay", ylabel: "u")
        #expect(script.contains("filledcurves") && script.contains("set output 'band.png'"))
        #expect(script.split(separator: "\n").count == s.times.count + 9)
        #expect(throws: EnsembleError.self) { try s.gnuplotBandScript(component: 1, png: "x.png", title: "", ylabel: "") }
    }
}
