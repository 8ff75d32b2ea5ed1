import AutoDiff
import DiffEqCore
import ExplicitRK
import StiffSolvers
import Foundation
import Sensitivity
import Testing

@testable import DelayDE

/// g(u) = u₀: the loss whose gradient is ∂u₀(t_k)/∂x summed over the observations.
struct FirstComponent: PointLoss {
    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S { u[0] }
}

/// The seed fit's loss term (u₁ − 1)².
struct DistanceFromOne: PointLoss {
    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S { (u[0] - 1) * (u[0] - 1) }
}

@Suite struct DDEAdjointTests {
    /// Hutchinson (r = 1.8, K = 1, τ = 1, φ = 0.5, u0 = 0.5, t ∈ [0, 10]), L = u(10):
    /// ∂L/∂(r, K, τ, φ, u0) from the discrete adjoint (ReverseDiffAdjoint), from forward mode
    /// (ForwardDiffSensitivity) and from central differences that re-solve (moving the stops
    /// τ, 2τ, … with τ) agree to 1e-6 relative.
    @Test func hutchinsonAdjointForwardAndDifferencesAgree() throws {
        let x = [1.8, 1.0, 1.0, 0.5, 0.5]
        let options = SolveOptions(reltol: 1e-12, abstol: 1e-12)
        func problem(_ x: [Double]) -> DDEProblem<GenericDDE<Hutchinson, Double>> {
            DDEProblem(model: Hutchinson(), u0: [x[4]], tspan: (0, 10), p: Array(x[0..<4]), constantLagParameters: [2])
        }
        func end(_ x: [Double]) throws -> Double {
            try solve(problem(x), MethodOfSteps(Vern9()), options: options).u.last![0]
        }
        let fd = try centralDifferences(x, end)
        let plan = try DDEObservationPlan(problem(x), options: options, wrt: .parametersAndInitialState)
        let (adjoint, slots) = try ReverseDiffAdjoint()._gradientAndTapeSize(
            of: FirstComponent(), problem(x), MethodOfSteps(Vern9()), plan: plan)
        let forward = try gradient(
            of: FirstComponent(), problem(x), MethodOfSteps(Vern9()), options: options, sensealg: ForwardDiffSensitivity())
        print("hutchinson tape slots \(slots) (\(slots * 41 / 1024) KiB), steps \(adjoint.stats.forwardSteps)")
        #expect(abs(adjoint.loss - (try end(x))) < 1e-12)
        let a = adjoint.dp + adjoint.du0, f = forward.dp + forward.du0
        for i in 0..<5 {
            print("  x[\(i)]: adjoint \(a[i]) forward \(f[i]) fd \(fd[i])")
            #expect(abs(a[i] - fd[i]) <= 1e-6 * abs(fd[i]), "∂u(10)/∂x[\(i)]: adjoint \(a[i]), differences \(fd[i])")
            #expect(abs(f[i] - fd[i]) <= 1e-6 * abs(fd[i]), "∂u(10)/∂x[\(i)]: forward \(f[i]), differences \(fd[i])")
            #expect(abs(a[i] - f[i]) <= 1e-6 * abs(f[i]), "∂u(10)/∂x[\(i)]: adjoint \(a[i]), forward \(f[i])")
        }
    }

    /// The seed fit's loss Σ_k (u₁(t_k) − 1)², t_k = 0, 0.1, …, 10, of the delay Lotka-Volterra
    /// at p = (2.2, 1.0, 2.0, 0.4), τ = 0.1, u0 = (1, 1): ∂L/∂(α, β, δ, γ, τ) and ∂L/∂u0 from the
    /// adjoint, forward mode and central differences agree to 1e-6 relative.
    @Test func delayLotkaVolterraAdjointForwardAndDifferencesAgree() throws {
        let x = [2.2, 1.0, 2.0, 0.4, 0.1, 1.0, 1.0]
        let options = SolveOptions(reltol: 1e-12, abstol: 1e-12, saveat: .every(0.1))
        func problem(_ x: [Double]) -> DDEProblem<GenericDDE<DelayLotkaVolterra, Double>> {
            DDEProblem(model: DelayLotkaVolterra(), u0: Array(x[5..<7]), tspan: (0, 10), p: Array(x[0..<5]), constantLagParameters: [4])
        }
        func loss(_ x: [Double]) throws -> Double {
            try solve(problem(x), MethodOfSteps(Vern9()), options: options).u.reduce(0) { $0 + ($1[0] - 1) * ($1[0] - 1) }
        }
        let fd = try centralDifferences(x, loss)
        let plan = try DDEObservationPlan(problem(x), options: options, wrt: .parametersAndInitialState)
        let (adjoint, slots) = try ReverseDiffAdjoint()._gradientAndTapeSize(
            of: DistanceFromOne(), problem(x), MethodOfSteps(Vern9()), plan: plan)
        let forward = try gradient(
            of: DistanceFromOne(), problem(x), MethodOfSteps(Vern9()), options: options, sensealg: ForwardDiffSensitivity())
        print("dlv tape slots \(slots) (\(slots * 41 / 1024) KiB), steps \(adjoint.stats.forwardSteps), observations \(adjoint.stats.peakStoredStates)")
        #expect(adjoint.stats.peakStoredStates == 101)
        #expect(abs(adjoint.loss - (try loss(x))) < 1e-10)
        let a = adjoint.dp + adjoint.du0, f = forward.dp + forward.du0
        for i in 0..<7 {
            print("  x[\(i)]: adjoint \(a[i]) forward \(f[i]) fd \(fd[i])")
            #expect(abs(a[i] - fd[i]) <= 1e-6 * abs(fd[i]), "∂L/∂x[\(i)]: adjoint \(a[i]), differences \(fd[i])")
            #expect(abs(f[i] - fd[i]) <= 1e-6 * abs(fd[i]), "∂L/∂x[\(i)]: forward \(f[i]), differences \(fd[i])")
            #expect(abs(a[i] - f[i]) <= 1e-6 * abs(f[i]), "∂L/∂x[\(i)]: adjoint \(a[i]), forward \(f[i])")
        }
    }

    /// Bad input gets a typed error before any solve, for either method; `wrt: .parameters`
    /// returns no `du0`.
    @Test func badInputIsRefusedBeforeAnySolve() throws {
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-8)
        func problem(lag: Double, history: Double = 0.5) -> DDEProblem<GenericDDE<Hutchinson, Double>> {
            DDEProblem(model: Hutchinson(), u0: [0.5], tspan: (0, 10), p: [1.8, 1, lag, history], constantLagParameters: [2])
        }
        #expect(throws: DDEGradientError.invalidInput(.invalidLag(index: 0, value: -1))) {
            try gradient(of: FirstComponent(), problem(lag: -1), MethodOfSteps(Tsit5()), options: options, sensealg: ReverseDiffAdjoint())
        }
        #expect(throws: DDEGradientError.invalidInput(.invalidLag(index: 0, value: -1))) {
            try gradient(of: FirstComponent(), problem(lag: -1), MethodOfSteps(Tsit5()), options: options, sensealg: ForwardDiffSensitivity())
        }
        #expect(throws: DDEGradientError.invalidInput(.nonFiniteHistory(component: 0, t: 0))) {
            try gradient(of: FirstComponent(), problem(lag: 1, history: .infinity), MethodOfSteps(Tsit5()), options: options, sensealg: ReverseDiffAdjoint())
        }
        var empty = options
        empty.saveat = .times([])
        #expect(throws: DDEGradientError.self) {
            try gradient(of: FirstComponent(), problem(lag: 1), MethodOfSteps(Tsit5()), options: empty, sensealg: ReverseDiffAdjoint())
        }
        let r = try gradient(
            of: FirstComponent(), problem(lag: 1), MethodOfSteps(Tsit5()), options: options, sensealg: ReverseDiffAdjoint(), wrt: .parameters)
        #expect(r.du0.isEmpty && r.dp.count == 4)
    }

    /// At the fit script's tolerance (Tsit5, reltol 1e-8, abstol 1e-10) forward mode's dL/dτ of
    /// the seed's loss stays within 1e-5 of the tight value (Vern9 at 1e-12, which the three
    /// methods agree on above), but the discrete adjoint's does not: forward 66.370368 (1.2e-6
    /// relative), adjoint 66.516145 (2.2e-3) against 66.370292; the rates' entries agree within
    /// 1e-6 for both.
    ///
    /// Not a defect of the adjoint: it is the exact derivative of its own discrete map. That map,
    /// the solve with its steps and stops frozen (fixed steps onto the primal's step points, no
    /// tracking), reproduces the adaptive solve (same points, states within 5e-15) and is not
    /// differentiable in τ: its stops `kτ` stay put while the discontinuities move, so the side
    /// a stage reads changes at the nominal τ (one-sided differences: left 62.9176, right
    /// 66.5161). The adjoint (and forward mode on the frozen map) is its right derivative:
    /// 3.3e-9 from the Richardson-extrapolated right differences (checked to 1e-8). What is off
    /// is that branch against the true dL/dτ: a discretization error of a step sequence chosen
    /// for u alone (forward mode's adaptive steps also see the partials), which shrinks with the
    /// tolerance (at Vern9, 1e-12 the three methods agree to 1e-6 above). The known issue below
    /// is that accuracy limit, not a wrong derivative.
    @Test func lagDerivativeAtLooseToleranceNeedsSensitivityAwareSteps() throws {
        let x = [2.2, 1.0, 2.0, 0.4, 0.1]
        func problem(_ x: [Double]) -> DDEProblem<GenericDDE<DelayLotkaVolterra, Double>> {
            DDEProblem(model: DelayLotkaVolterra(), u0: [1.0, 1.0], tspan: (0, 10), p: x, constantLagParameters: [4])
        }
        let prob = problem(x)
        let tight = try gradient(
            of: DistanceFromOne(), prob, MethodOfSteps(Vern9()),
            options: SolveOptions(reltol: 1e-12, abstol: 1e-12, saveat: .every(0.1)), sensealg: ForwardDiffSensitivity())
        let loose = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .every(0.1))
        let forward = try gradient(of: DistanceFromOne(), prob, MethodOfSteps(Tsit5()), options: loose, sensealg: ForwardDiffSensitivity())
        let adjoint = try gradient(of: DistanceFromOne(), prob, MethodOfSteps(Tsit5()), options: loose, sensealg: ReverseDiffAdjoint())
        let reference = tight.dp[4]
        #expect(abs(forward.dp[4] - reference) <= 1e-5 * abs(reference))
        withKnownIssue("the discrete adjoint's steps are chosen for u alone; dL/dτ is 2.2e-3 off at reltol 1e-8") {
            #expect(abs(adjoint.dp[4] - reference) <= 1e-5 * abs(reference), "adjoint \(adjoint.dp[4]), reference \(reference)")
        }
        for i in 0..<4 {
            #expect(abs(adjoint.dp[i] - tight.dp[i]) <= 1e-6 * abs(tight.dp[i]), "entry \(i)")
        }

        // The adjoint's own map: the adaptive solve's step points as fixed steps.
        var everyStep = loose
        everyStep.saveat = nil
        everyStep.saveEverystep = true
        let steps = try solve(prob, MethodOfSteps(Tsit5()), options: everyStep)
        let frozenMethod = MethodOfSteps(Tsit5(), trackDiscontinuities: false)
        var frozen = loose
        frozen.adaptive = false
        frozen.dt = 10
        frozen.tstops = Array(steps.t.dropFirst())
        var frozenSteps = frozen
        frozenSteps.saveat = nil
        frozenSteps.saveEverystep = true
        let replay = try solve(prob, frozenMethod, options: frozenSteps)
        #expect(replay.t == steps.t)
        #expect(zip(replay.u, steps.u).allSatisfy { abs($0[0] - $1[0]) <= 1e-12 && abs($0[1] - $1[1]) <= 1e-12 })
        func loss(_ tau: Double) throws -> Double {
            var p = x
            p[4] = tau
            return try solve(problem(p), frozenMethod, options: frozen).u.reduce(0) { $0 + ($1[0] - 1) * ($1[0] - 1) }
        }
        let l0 = try loss(x[4]), delta = 1e-6
        let right = 2 * (try loss(x[4] + delta) - l0) / delta - (try loss(x[4] + 2 * delta) - l0) / (2 * delta)
        let left = 2 * (l0 - (try loss(x[4] - delta))) / delta - (l0 - (try loss(x[4] - 2 * delta))) / (2 * delta)
        print("  frozen map: dL/dτ right \(right), left \(left), adjoint \(adjoint.dp[4])")
        #expect(abs(adjoint.dp[4] - right) <= 1e-8 * abs(right), "adjoint \(adjoint.dp[4]), right derivative of its map \(right)")
        #expect(abs(right - left) > 1, "the frozen map's one-sided derivatives: right \(right), left \(left)")
    }

    /// A stiff method under both sensealgs: Hutchinson's dL/d(r, K, τ, φ, u0) of u(10) with
    /// MethodOfSteps(Rodas5P()) at 1e-10 (the W-matrix's finite-difference Jacobian and its LU
    /// recorded on the tape) against the Vern9 1e-12 forward-mode values, 1e-6 relative (measured:
    /// at most 1.1e-8 for the adjoint, 1.0e-9 for forward mode).
    @Test func stiffMethodAdjoint() throws {
        let prob = DDEProblem(model: Hutchinson(), u0: [0.5], tspan: (0, 10), p: [1.8, 1, 1, 0.5], constantLagParameters: [2])
        let tight = try gradient(
            of: FirstComponent(), prob, MethodOfSteps(Vern9()), options: SolveOptions(reltol: 1e-12, abstol: 1e-12),
            sensealg: ForwardDiffSensitivity())
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-10)
        let adjoint = try gradient(of: FirstComponent(), prob, MethodOfSteps(Rodas5P()), options: options, sensealg: ReverseDiffAdjoint())
        let forward = try gradient(of: FirstComponent(), prob, MethodOfSteps(Rodas5P()), options: options, sensealg: ForwardDiffSensitivity())
        let t = tight.dp + tight.du0, a = adjoint.dp + adjoint.du0, f = forward.dp + forward.du0
        for i in 0..<5 {
            print("  Rodas5P x[\(i)]: adjoint \(a[i]) forward \(f[i]) tight \(t[i])")
            #expect(abs(a[i] - t[i]) <= 1e-6 * abs(t[i]), "entry \(i): adjoint \(a[i]), reference \(t[i])")
            #expect(abs(f[i] - t[i]) <= 1e-6 * abs(t[i]), "entry \(i): forward \(f[i]), reference \(t[i])")
        }
    }
}
