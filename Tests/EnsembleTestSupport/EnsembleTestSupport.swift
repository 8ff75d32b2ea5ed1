// The ensembles that EnsemblesTests (serial and threads) and the MPI probe (ensemble-mpi-probe,
// run by EnsemblesMPITests) both solve: one definition, so that the probe's figures and the
// tests' are of the same problem.
import DiffEqCore
import Ensembles
import ExplicitRK
import ProblemLibrary
import Sensitivity
import StochasticDE

/// Lotka-Volterra with each trajectory's parameters and initial state drawn from its seed.
public func randomizedLotkaVolterra() -> EnsembleProblem<
    ODEProblem<GenericRHS<LotkaVolterra, Double>>, ODESolution<Double>, [Double], [[Double]]
> {
    EnsembleProblem(
        TestProblems.lotkaVolterra(),
        probFunc: { prob, ctx in
            var rng = ctx.generator
            let p = prob.p.map { $0 * (0.9 + 0.2 * rng.nextUniform()) }
            return prob.remake(p: p, u0: [1 + 0.5 * rng.nextUniform(), 1 + 0.5 * rng.nextUniform()])
        },
        outputFunc: { sol, _ in .keep(sol.u.last ?? []) }, seed: 2026)
}

/// The stochastic Lotka-Volterra model of issue #17 (the sde-lotka-volterra-fit script's):
/// drift du₁ = p₁u₁ − p₂u₁u₂, du₂ = −p₃u₂ + p₄u₁u₂, diagonal multiplicative noise g = 0.1 u.
public struct StochasticLotkaVolterra: SDEModel, Sendable {
    public init() {}
    public func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
    }
    public func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        g[0] = S(0.1) * u[0]
        g[1] = S(0.1) * u[1]
    }
}

/// Monte Carlo of the stochastic Lotka-Volterra model (p = 1.5, 1, 3, 1; u0 = 1, 1 on
/// [0, `tEnd`]): every trajectory the same problem on the Wiener process of its own seed, the
/// end state kept.
public func stochasticLotkaVolterraEnsemble(tEnd: Double = 1) -> EnsembleProblem<
    SDEProblem<GenericSDE<StochasticLotkaVolterra, Double>>, ODESolution<Double>, [Double], [[Double]]
> {
    EnsembleProblem(
        SDEProblem(model: StochasticLotkaVolterra(), u0: [1.0, 1.0], tspan: (0, tEnd), p: [1.5, 1.0, 3.0, 1.0]),
        outputFunc: { sol, _ in .keep(sol.u.last ?? []) }, seed: 1917)
}

// MARK: The data-parallel fit: Lotka-Volterra from several initial states, compared with
// observations at the library's parameters, saved at t = 1 ... 5.

/// `Σ_k |u(t_k) − target_k|²` over the observation times.
struct TargetLoss: PointLoss, Sendable {
    let times: [Double]
    let targets: [[Double]]

    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S {
        let k = times.firstIndex(of: t) ?? 0
        var s = S(0)
        for j in u.indices { s += (u[j] - S(targets[k][j])) * (u[j] - S(targets[k][j])) }
        return s
    }
}

public let fitTimes = [1.0, 2, 3, 4, 5]
public let fitOptions = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times(fitTimes))

/// The initial state of trajectory `i`.
public func fitInitialState(_ i: Int) -> [Double] { [1 + 0.1 * Double(i), 1 + 0.05 * Double(i % 3)] }

/// One member of the fit: its problem and the observations it is compared with.
public struct FitCase: Sendable {
    public var prob: ODEProblem<GenericRHS<LotkaVolterra, Double>>
    public var targets: [[Double]]

    public init(prob: ODEProblem<GenericRHS<LotkaVolterra, Double>>, targets: [[Double]]) {
        self.prob = prob
        self.targets = targets
    }
}

/// The observations of trajectories `0..<trajectories`: plain solves at the true parameters.
public func fitTargets(trajectories: Int) throws -> [[[Double]]] {
    let truth = TestProblems.lotkaVolterra()
    return try (0..<trajectories).map { i in
        try solve(truth.remake(u0: fitInitialState(i)), Tsit5(), options: fitOptions).u
    }
}

/// The fit at parameters `p`: trajectory `i` starts from `fitInitialState(i)` and is compared
/// with `targets[i]`; the loss and gradient are summed.
public func fitEnsemble(
    p: [Double], targets: [[[Double]]]
) -> EnsembleProblem<FitCase, LossGradient, LossGradient, LossGradient> {
    EnsembleProblem(
        FitCase(prob: TestProblems.lotkaVolterra().remake(p: p), targets: []),
        probFunc: { fit, ctx in
            FitCase(prob: fit.prob.remake(u0: fitInitialState(ctx.index)), targets: targets[ctx.index])
        },
        outputFunc: { r, _ in .keep(r) }, reduction: .sum(parameters: p.count))
}

/// One trajectory's loss and gradient with respect to the parameters (forward mode).
@Sendable public func lossGradient(_ fit: FitCase) throws -> LossGradient {
    let r = try gradient(
        of: TargetLoss(times: fitTimes, targets: fit.targets), fit.prob, algorithm: Tsit5(), options: fitOptions,
        sensealg: ForwardDiffSensitivity(), wrt: .parameters)
    return LossGradient(loss: r.loss, gradient: r.dp)
}
