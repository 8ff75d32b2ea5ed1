import Foundation
import Testing
import AutoDiff
import DiffEqCore
import ExplicitRK
import ProblemLibrary
import Sensitivity
import StiffSolvers
import SensitivityCVODES

/// `u' = A u` with `A` (row-major) as the parameters.
private struct LinearModel: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        for i in 0..<3 { du[i] = p[3 * i] * u[0] + p[3 * i + 1] * u[1] + p[3 * i + 2] * u[2] }
    }
}

@Suite struct SensitivityTests {
    static let lvP = [1.5, 1.0, 3.0, 1.0]
    static let lvU0 = [1.0, 1.0]

    private func lvResults(reltol: Double) throws -> [SensitivityResult] {
        let prob = ODEProblem(model: LotkaVolterra(), u0: Self.lvU0, tspan: (0, 10), p: Self.lvP)
        let options = SolveOptions(reltol: reltol, abstol: .scalar(reltol), saveat: .every(0.1))
        let loss = SumOfSquaresLoss()
        return [
            try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: ForwardDiffSensitivity()),
            try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: ForwardSensitivity()),
            try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: InterpolatingAdjoint()),
            try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: QuadratureAdjoint()),
            try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: BacksolveAdjoint()),
            try gradient(
                of: loss, prob, algorithm: Tsit5(), options: options,
                sensealg: BacksolveAdjoint(checkpointing: true)),
            try gradient(
                of: loss, prob, algorithm: Tsit5(), options: options,
                sensealg: InterpolatingAdjoint(checkpointing: true)),
        ]
    }

    @Test func lotkaVolterraAllMethodsMatchCentralDifferences() throws {
        let reference = try centralDifferences(
            LotkaVolterra(), u0: Self.lvU0, p: Self.lvP, tspan: (0, 10), saveat: .every(0.1), algorithm: Tsit5(),
            reltol: 1e-12, abstol: 1e-12)
        let refLoss = try lossBySolve(
            LotkaVolterra(), u0: Self.lvU0, p: Self.lvP, tspan: (0, 10), saveat: .every(0.1), algorithm: Tsit5(),
            reltol: 1e-12, abstol: 1e-12)
        let results = try lvResults(reltol: 1e-10)
        print("LV central differences: dp = \(reference.dp), du0 = \(reference.du0)")
        for r in results {
            let ep = relativeError(r.dp, reference.dp), eu = relativeError(r.du0, reference.du0)
            print("LV \(r.method): dp rel err \(ep), du0 rel err \(eu), loss err \(abs(r.loss - refLoss) / refLoss); \(r.stats)")
            #expect(ep < 1e-6, "\(r.method) dp \(r.dp) vs \(reference.dp)")
            #expect(eu < 1e-6, "\(r.method) du0 \(r.du0) vs \(reference.du0)")
            #expect(abs(r.loss - refLoss) <= 1e-7 * refLoss)
        }
        // Every method against every other.
        var worst = 0.0
        for a in results {
            for b in results {
                worst = max(worst, relativeError(a.dp + a.du0, b.dp + b.du0))
            }
        }
        print("LV worst pairwise relative difference at reltol 1e-10: \(worst)")
        #expect(worst < 1e-6)
    }

    @Test func statisticsAreReported() throws {
        let results = try lvResults(reltol: 1e-8)
        for r in results {
            #expect(r.stats.forwardEvaluations > 0)
            #expect(r.stats.peakStoredStates >= 101)
        }
        let adjoints = results.filter { $0.method.contains("Adjoint") }
        #expect(adjoints.count == 5)
        for r in adjoints {
            #expect(r.stats.vjps > 0)
            #expect(r.stats.backwardEvaluations > 0)
            #expect(r.stats.backwardSteps > 0)
        }
        #expect(results[5].stats.checkpoints == 100)
        #expect(results[4].stats.checkpoints == 0)
        // The checkpointed interpolating adjoint re-solves each of the 100 observation intervals
        // and holds the observations plus one interval's steps, far fewer than every step.
        #expect(results[6].stats.checkpoints == 100)
        #expect(results[6].stats.forwardEvaluations > results[2].stats.forwardEvaluations)
        #expect(results[6].stats.peakStoredStates < results[2].stats.peakStoredStates + 101)
        #expect(results[6].stats.peakStoredStates - 101 < results[2].stats.peakStoredStates / 10)
        // The backsolve adjoint reconstructs u0 well on this non-dissipative problem.
        let u0 = results[4].reconstructedInitialState!
        #expect(abs(u0[0] - 1) < 1e-5 && abs(u0[1] - 1) < 1e-5, "\(u0)")
    }

    @Test func endStateLossWithoutSaveat() throws {
        // No saveat: L = g(u(T)). Compare forward mode with the interpolating adjoint.
        let prob = ODEProblem(model: LotkaVolterra(), u0: Self.lvU0, tspan: (0, 5), p: Self.lvP)
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-10)
        let a = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options, sensealg: ForwardDiffSensitivity())
        let b = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options, sensealg: InterpolatingAdjoint())
        #expect(relativeError(b.dp + b.du0, a.dp + a.du0) < 1e-6)
        #expect(a.stats.peakStoredStates == 1)
    }

    @Test func invalidInputThrows() {
        let prob = ODEProblem(model: LotkaVolterra(), u0: Self.lvU0, tspan: (10, 0), p: Self.lvP)
        #expect(throws: SensitivityError.self) {
            _ = try gradient(
                of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: SolveOptions(),
                sensealg: InterpolatingAdjoint())
        }
        let bad = ODEProblem(model: LotkaVolterra(), u0: Self.lvU0, tspan: (0, 1), p: Self.lvP)
        #expect(throws: SensitivityError.self) {
            _ = try gradient(
                of: SumOfSquaresLoss(), bad, algorithm: Tsit5(), options: SolveOptions(saveat: .times([2])),
                sensealg: QuadratureAdjoint())
        }
    }

    @Test func closureRightHandSideThrowsAndGenericCallersWork() throws {
        let closure = ODEProblem(
            f: { (du: inout [Double], u: [Double], p: [Double], _: Double) in du[0] = p[0] * u[0] }, u0: [1.0],
            tspan: (0, 1), p: [0.5])
        #expect(throws: SensitivityError.reverseMode(.closureRightHandSide(type: "ClosureRHS<Double>"))) {
            _ = try gradient(
                of: SumOfSquaresLoss(), closure, algorithm: Tsit5(), options: SolveOptions(),
                sensealg: InterpolatingAdjoint())
        }
        // A caller generic over ODEFunction reaches the model form through the dynamic path.
        func generic<F: ODEFunction>(_ problem: ODEProblem<F>) throws(SensitivityError) -> SensitivityResult
        where F.Scalar == Double {
            try gradient(
                of: SumOfSquaresLoss(), problem, algorithm: Tsit5(),
                options: SolveOptions(reltol: 1e-10, abstol: 1e-10, saveat: .every(1)), sensealg: QuadratureAdjoint())
        }
        let prob = ODEProblem(model: LotkaVolterra(), u0: Self.lvU0, tspan: (0, 3), p: Self.lvP)
        let viaGeneric = try generic(prob)
        let direct = try gradient(
            of: SumOfSquaresLoss(), prob, algorithm: Tsit5(),
            options: SolveOptions(reltol: 1e-10, abstol: 1e-10, saveat: .every(1)), sensealg: QuadratureAdjoint())
        #expect(viaGeneric.dp == direct.dp && viaGeneric.du0 == direct.du0)
    }

    @Test func roberStiffForwardDiffAndAdjointMatchCentralDifferences() throws {
        let p = [0.04, 3e7, 1e4], u0 = [1.0, 0.0, 0.0]
        let prob = ODEProblem(model: Rober(), u0: u0, tspan: (0, 40), p: p)
        let saveat = SaveAt.every(4)
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-14, saveat: saveat)
        let loss = SumOfSquaresLoss()
        let fd = try gradient(of: loss, prob, algorithm: Rodas5P(), options: options, sensealg: ForwardDiffSensitivity())
        let adj = try gradient(of: loss, prob, algorithm: Rodas5P(), options: options, sensealg: InterpolatingAdjoint())
        let others = [
            try gradient(of: loss, prob, algorithm: Rodas5P(), options: options, sensealg: ForwardSensitivity()),
            try gradient(of: loss, prob, algorithm: Rodas5P(), options: options, sensealg: QuadratureAdjoint()),
            try gradient(of: loss, prob, algorithm: KenCarp4(), options: options, sensealg: InterpolatingAdjoint()),
        ]
        let reference = try centralDifferences(
            Rober(), u0: u0, p: p, tspan: (0, 40), saveat: saveat, algorithm: Rodas5P(), reltol: 1e-12,
            abstol: 1e-16, h: 1e-5)
        // Compare dL/dlog k (the parameters span nine orders of magnitude).
        func scaled(_ dp: [Double]) -> [Double] { zip(dp, p).map { $0 * $1 } }
        print("ROBER central differences: p·dL/dp = \(scaled(reference.dp)), du0 = \(reference.du0)")
        for r in [fd, adj] + others {
            let ep = relativeError(scaled(r.dp), scaled(reference.dp))
            let eu = relativeError(r.du0, reference.du0)
            print("ROBER \(r.method): p·dp rel err \(ep), du0 rel err \(eu); \(r.stats)")
            #expect(ep < 1e-5, "\(r.method) \(scaled(r.dp)) vs \(scaled(reference.dp))")
            #expect(eu < 1e-5, "\(r.method) \(r.du0) vs \(reference.du0)")
        }
        let pair = relativeError(scaled(adj.dp) + adj.du0, scaled(fd.dp) + fd.du0)
        print("ROBER ForwardDiff vs InterpolatingAdjoint: \(pair)")
        #expect(pair < 1e-5)
    }

    @Test func lorenzBacksolveDriftsWhileInterpolatingAdjointHolds() throws {
        let p = [10.0, 28.0, 8.0 / 3.0], u0 = [1.0, 0.0, 0.0]
        // Short horizon: the interpolating adjoint matches forward mode.
        let short = ODEProblem(model: Lorenz(), u0: u0, tspan: (0, 1), p: p)
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-10, saveat: .every(0.1))
        let fwd = try gradient(of: SumOfSquaresLoss(), short, algorithm: Tsit5(), options: options, sensealg: ForwardDiffSensitivity())
        let adj = try gradient(of: SumOfSquaresLoss(), short, algorithm: Tsit5(), options: options, sensealg: InterpolatingAdjoint())
        let e = relativeError(adj.dp + adj.du0, fwd.dp + fwd.du0)
        print("Lorenz T=1: InterpolatingAdjoint vs ForwardDiff rel diff \(e)")
        #expect(e < 1e-6)
        // A longer horizon: integrating the state backward from u(T) does not return to u0 (the
        // flow contracts volume at rate σ + 1 + β ≈ 13.7, so backward errors grow like e^(13.7 t)),
        // and the backsolve gradient is wrong, while the interpolating adjoint and the
        // checkpointed backsolve still match forward mode. (From T = 3 on the backward re-solve
        // blows up and the gradient throws .solveFailed.)
        let long = ODEProblem(model: Lorenz(), u0: u0, tspan: (0, 2), p: p)
        let longOptions = SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(0.1))
        let reference = try gradient(
            of: SumOfSquaresLoss(), long, algorithm: Tsit5(), options: longOptions, sensealg: ForwardDiffSensitivity())
        let back = try gradient(
            of: SumOfSquaresLoss(), long, algorithm: Tsit5(), options: longOptions, sensealg: BacksolveAdjoint())
        let interpolating = try gradient(
            of: SumOfSquaresLoss(), long, algorithm: Tsit5(), options: longOptions, sensealg: InterpolatingAdjoint())
        let checkpointed = try gradient(
            of: SumOfSquaresLoss(), long, algorithm: Tsit5(), options: longOptions,
            sensealg: BacksolveAdjoint(checkpointing: true))
        let r = back.reconstructedInitialState!
        let drift = zip(r, u0).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        let backError = relativeError(back.dp, reference.dp)
        let interpolatingError = relativeError(interpolating.dp + interpolating.du0, reference.dp + reference.du0)
        let checkpointedError = relativeError(checkpointed.dp + checkpointed.du0, reference.dp + reference.du0)
        print(
            "Lorenz T=2: backsolve reconstructed u(0) = \(r) (drift \(drift)), backsolve dp rel err \(backError); "
                + "InterpolatingAdjoint rel err \(interpolatingError), checkpointed backsolve rel err \(checkpointedError)")
        #expect(drift > 1)
        #expect(backError > 0.1)
        #expect(interpolatingError < 1e-6)
        #expect(checkpointedError < 1e-6)
    }

    @Test func roberBacksolveIsUnstable() throws {
        // Re-solving a stiff problem's state backward amplifies its fast decaying modes: the
        // backward solve fails (Ma et al., arXiv:1812.01892, on why backsolve is unsafe for stiff
        // problems); the interpolating adjoint of the same problem is tested above.
        let prob = ODEProblem(model: Rober(), u0: [1.0, 0, 0], tspan: (0, 40), p: [0.04, 3e7, 1e4])
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-14, saveat: .every(4))
        #expect(throws: SensitivityError.self) {
            _ = try gradient(
                of: SumOfSquaresLoss(), prob, algorithm: Rodas5P(), options: options, sensealg: BacksolveAdjoint())
        }
    }

    @Test func checkpointedBacksolveRefusesALostTrajectory() throws {
        // The Brusselator with diffusion on a 3x3 grid, with sens-bench's published setup: the
        // state integrated backward (anti-diffusion in reverse time) drifts about 1e6
        // tolerances from the stored states between checkpoints, and the gradient it gives is
        // off by about 100%. The checkpointed backsolve must refuse it, not return it.
        let model = Brusselator2D(gridSize: 3)
        let prob = ODEProblem(model: model, u0: model.initialState, tspan: (0, 1), p: model.nominalParameters)
        let options = SolveOptions(reltol: 1e-7, abstol: 1e-5, saveat: .every(0.1))
        do {
            let r = try gradient(
                of: SumOfSquaresLoss(), prob, algorithm: Rodas5P(), options: options,
                sensealg: BacksolveAdjoint(checkpointing: true), wrt: .parameters)
            Issue.record("returned a gradient with state drift \(r.stats.stateDrift ?? Double.nan)")
        } catch let error {
            guard case SensitivityError.solveFailed(let phase, _, let message) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(phase == "backward (state reconstruction)")
            #expect(message?.contains("QuadratureAdjoint") == true)
        }
        // Where the backward state solve is healthy the drift is a few tolerances, and the other
        // methods report none.
        let lv = ODEProblem(model: LotkaVolterra(), u0: [1.0, 1.0], tspan: (0, 10), p: [1.5, 1, 3, 1])
        let lvOptions = SolveOptions(reltol: 1e-7, abstol: 1e-5, saveat: .every(0.5))
        let back = try gradient(
            of: SumOfSquaresLoss(), lv, algorithm: Tsit5(), options: lvOptions, sensealg: BacksolveAdjoint(checkpointing: true))
        let drift = try #require(back.stats.stateDrift)
        #expect(drift < 20, "drift \(drift)")
        let quadrature = try gradient(
            of: SumOfSquaresLoss(), lv, algorithm: Tsit5(), options: lvOptions, sensealg: QuadratureAdjoint())
        #expect(quadrature.stats.stateDrift == nil)
        #expect(relativeError(back.dp + back.du0, quadrature.dp + quadrature.du0) < 1e-3)
    }

    @Test func manyParametersUseSeveralChunks() throws {
        // u' = A u with the 3x3 matrix A as parameters: 9 + 3 = 12 directions, two dual chunks.
        let p = [-0.5, 0.3, 0.1, -0.2, -0.4, 0.25, 0.05, -0.1, -0.3]
        let prob = ODEProblem(model: LinearModel(), u0: [1.0, 0.5, -0.5], tspan: (0, 3), p: p)
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-10, saveat: .every(0.25))
        let loss = SumOfSquaresLoss()
        let a = try gradient(of: loss, prob, algorithm: Vern7(), options: options, sensealg: ForwardDiffSensitivity())
        let b = try gradient(of: loss, prob, algorithm: Vern7(), options: options, sensealg: ForwardSensitivity())
        let c = try gradient(of: loss, prob, algorithm: Vern7(), options: options, sensealg: InterpolatingAdjoint())
        let d = try gradient(of: loss, prob, algorithm: Vern7(), options: options, sensealg: QuadratureAdjoint())
        let reference = try centralDifferences(
            LinearModel(), u0: [1.0, 0.5, -0.5], p: p, tspan: (0, 3), saveat: .every(0.25), algorithm: Vern7(),
            reltol: 1e-12, abstol: 1e-12)
        for r in [a, b, c, d] {
            let e = relativeError(r.dp + r.du0, reference.dp + reference.du0)
            print("linear 3x3 \(r.method): rel err vs central differences \(e)")
            #expect(e < 1e-6)
        }
    }

    @Test func exponentialGrowthMatchesClosedForm() throws {
        // L = Σ_k u(t_k)² = Σ_k u0² e^(2 a t_k): dL/da = Σ 2 t_k u(t_k)², dL/du0 = Σ 2 u(t_k)² / u0.
        let a = -0.7, u0 = 1.3
        let prob = ODEProblem(model: Growth(), u0: [u0], tspan: (0, 2), p: [a])
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-12, saveat: .times([0.5, 1, 1, 1.75, 2]))
        var exactDa = 0.0, exactDu0 = 0.0, exactL = 0.0
        for t in [0.5, 1, 1, 1.75, 2] {
            let u2 = u0 * u0 * Foundation.exp(2 * a * t)
            exactL += u2
            exactDa += 2 * t * u2
            exactDu0 += 2 * u2 / u0
        }
        let methods: [any SensitivityAlgorithm] = [
            ForwardDiffSensitivity(), ForwardSensitivity(), InterpolatingAdjoint(), QuadratureAdjoint(),
            BacksolveAdjoint(), BacksolveAdjoint(checkpointing: true), InterpolatingAdjoint(checkpointing: true),
        ]
        func run<S: SensitivityAlgorithm>(_ s: S) throws -> SensitivityResult {
            try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options, sensealg: s)
        }
        for method in methods {
            let r = try run(method)
            let e = max(abs(r.dp[0] - exactDa) / abs(exactDa), abs(r.du0[0] - exactDu0) / exactDu0)
            print("growth \(r.method): rel err vs closed form \(e)")
            #expect(e < 1e-7, "\(r.method): \(r.dp) \(r.du0) vs \(exactDa) \(exactDu0)")
            #expect(abs(r.loss - exactL) < 1e-8 * exactL)
        }
    }
}

/// `wrt: .parameters`: the forward methods drop the initial-state directions (less work, the
/// same `dL/dp` within the solves' accuracy), every method returns an empty `du0`, and the
/// automatic choice counts only the directions forward mode would pay for.
@Suite struct ParametersOnlyGradientTests {
    @Test func forwardMethodsSkipTheInitialStateDirections() throws {
        let prob = ODEProblem(model: LotkaVolterra(), u0: [1.0, 1.0], tspan: (0, 10), p: [1.5, 1.0, 3.0, 1.0])
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-10, saveat: .every(0.1))
        let reference = try centralDifferences(
            LotkaVolterra(), u0: [1.0, 1.0], p: [1.5, 1.0, 3.0, 1.0], tspan: (0, 10), saveat: .every(0.1),
            algorithm: Tsit5(), reltol: 1e-12, abstol: 1e-12)
        let methods: [any SensitivityAlgorithm] = [
            ForwardDiffSensitivity(), ForwardSensitivity(), CVODESForward(method: .adams), QuadratureAdjoint(),
        ]
        for m in methods {
            let both = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options, sensealg: m)
            let ponly = try gradient(
                of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options, sensealg: m, wrt: .parameters)
            #expect(ponly.du0.isEmpty && both.du0.count == 2, "\(m.name)")
            #expect(ponly.loss == both.loss || abs(ponly.loss - both.loss) <= 1e-9 * both.loss, "\(m.name)")
            #expect(relativeError(ponly.dp, reference.dp) < 1e-6, "\(m.name): \(ponly.dp) vs \(reference.dp)")
            if m is QuadratureAdjoint {
                // The adjoint's work does not depend on what is asked: same solves, same numbers.
                #expect(ponly.dp == both.dp && ponly.stats == both.stats)
            }
        }
    }

    @Test func forwardDiffNeedsFewerChunksWithoutTheInitialState() throws {
        // 14 parameters and 4 states: 18 directions are three dual solves (8 + 8 + 2), the 14
        // parameters alone two.
        let p = (0..<14).map { 0.05 + 0.01 * Double($0) }
        let prob = ODEProblem(model: WideModel(), u0: [1.0, 0.5, 0.2, 0.1], tspan: (0, 1), p: p)
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-10, saveat: .every(0.25))
        let both = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options,
                                sensealg: ForwardDiffSensitivity())
        let ponly = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options,
                                 sensealg: ForwardDiffSensitivity(), wrt: .parameters)
        let adjoint = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options,
                                   sensealg: InterpolatingAdjoint())
        #expect(relativeError(ponly.dp, adjoint.dp) < 1e-7)
        #expect(relativeError(both.dp, adjoint.dp) < 1e-7)
        #expect(ponly.du0.isEmpty)
        #expect(ponly.stats.forwardSteps * 3 < both.stats.forwardSteps * 2 + both.stats.forwardSteps / 3,
                "two dual solves instead of three: \(ponly.stats) vs \(both.stats)")
    }

    @Test func automaticChoiceCountsForwardDirections() throws {
        // 20 parameters, 2 states: over the forward-mode limit of 16 either way; 14 parameters
        // and 4 states: 18 directions with the initial state (adjoint), 14 without (forward).
        let p = [Double](repeating: 0.1, count: 14)
        let prob = ODEProblem(model: WideModel(), u0: [1.0, 0.5, 0.2, 0.1], tspan: (0, 1), p: p)
        let options = SolveOptions(reltol: 1e-8, abstol: 1e-8)
        let both = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options)
        let ponly = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options, wrt: .parameters)
        #expect(both.method == "AutoSensitivity → QuadratureAdjoint")
        #expect(ponly.method == "AutoSensitivity → ForwardDiffSensitivity")
        #expect(relativeError(ponly.dp, both.dp) < 1e-6)
    }
}

/// `u_i' = -p_{i} u_i + Σ_k p_{4+k} (k-th coupling)`: 4 states, 14 parameters, each used.
private struct WideModel: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        for i in 0..<4 { du[i] = -p[i] * u[i] }
        for k in 0..<10 { du[k % 4] += p[4 + k] * u[(k + 1) % 4] * S(0.1) }
    }
}

/// `u' = -u` has no parameters: every method returns an empty `dp` (and with `wrt: .parameters`
/// an empty `du0`; CVODES, which needs at least one sensitivity, gets a zero one), and
/// `dL/du0 = 2 u0 Σ_k e^{-2 t_k}` for `L = Σ_k u(t_k)²` otherwise.
@Suite struct NoParametersTests {
    private struct Decay: ODEModel {
        func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { du[0] = -u[0] }
    }

    @Test func everyMethodHandlesAnEmptyParameterVector() throws {
        let prob = ODEProblem(model: Decay(), u0: [1.0], tspan: (0, 1), p: [])
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-10, saveat: .every(0.5))
        let exact = 2 * (1 + exp(-1.0) + exp(-2.0))
        let methods: [any SensitivityAlgorithm] = [
            ForwardDiffSensitivity(), ForwardSensitivity(), InterpolatingAdjoint(), QuadratureAdjoint(),
            CVODESForward(method: .adams), CVODESAdjoint(method: .adams), AutoSensitivity(),
        ]
        for m in methods {
            let both = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options, sensealg: m)
            #expect(both.dp.isEmpty && both.du0.count == 1, "\(m.name)")
            #expect(abs(both.du0[0] - exact) < 1e-6 * exact, "\(m.name): \(both.du0[0]) vs \(exact)")
            let ponly = try gradient(
                of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options, sensealg: m, wrt: .parameters)
            #expect(ponly.dp.isEmpty && ponly.du0.isEmpty, "\(m.name)")
            #expect(abs(ponly.loss - (1 + exp(-1.0) + exp(-2.0))) < 1e-7, "\(m.name): loss \(ponly.loss)")
        }
    }
}
