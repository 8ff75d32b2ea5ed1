public import DiffEqCore
public import Sensitivity
public import StochasticDE

/// Pathwise forward mode: the solve itself on dual numbers (the generic model form at
/// `Dual<8, Double>`), on the tree's path, in chunks of 8 directions (the parameters, then the
/// initial state). The exact derivative of the discrete solution the forward solve computes,
/// for any method (Itô or Stratonovich) and noise kind; cost about `⌈(np + n)/8⌉` solves at
/// nine times the arithmetic. Fixed steps (`options.dt`, `adaptive: false`) keep the step
/// sequence independent of the parameters; an adaptive solve differentiates the steps it chose.
public struct SDEForwardDiffSensitivity: SDESensitivityAlgorithm {
    public init() {}
    public var name: String { "SDEForwardDiffSensitivity" }

    @inlinable
    public func gradient<M: SDEModel, L: PointLoss, A: SDEAlgorithm>(
        of loss: L, _ problem: SDEProblem<GenericSDE<M, Double>>, algorithm: A, noise tree: VirtualBrownianTree,
        plan: SDEObservationPlan
    ) throws(SensitivityError) -> SensitivityResult {
        typealias D = Dual<8, Double>
        let n = problem.u0.count
        let np = problem.p.count
        let directions = np + (plan.inputs == .parameters ? 0 : n)
        var dp = [Double](repeating: 0, count: np)
        var du0 = [Double](repeating: 0, count: n)
        var lossValue = 0.0
        var stats = SensitivityStats()
        var offset = 0
        repeat {
            let width = Swift.min(8, directions - offset)
            var u0 = problem.u0.map { D(constant: $0) }
            var p = problem.p.map { D(constant: $0) }
            for j in 0..<width {
                let d = offset + j
                if d < np { p[d].partials[j] = 1 } else { u0[d - np].partials[j] = 1 }
            }
            var dual = SDEProblem(model: problem.f.model, u0: u0, tspan: problem.tspan, p: p, noise: problem.noise)
            dual.seed = problem.seed
            let sol = try _observingSDESolve(dual, algorithm, tree, plan, phase: "forward (dual)")
            stats.forwardEvaluations += sol.stats.nf
            stats.forwardSteps += sol.stats.naccept
            var total = D.zero
            for (k, t) in plan.times.enumerated() { total += loss(sol.u[k], t) }
            lossValue = total.value
            for j in 0..<width {
                let d = offset + j
                if d < np { dp[d] = total.partials[j] } else { du0[d - np] = total.partials[j] }
            }
            offset += width
        } while offset < directions
        stats.peakStoredStates = plan.times.count
        return SensitivityResult(loss: lossValue, dp: dp, du0: du0, stats: stats, method: name)
    }
}
