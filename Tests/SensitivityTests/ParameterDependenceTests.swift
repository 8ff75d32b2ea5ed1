import Foundation
import Testing
import DiffEqCore
import ExplicitRK
import Sensitivity
import SensitivityCVODES

// `Growth` (`u' = a u`, TestSupport.swift) with `p = [a, b, c]`: `u0 = b`, and the span ends at
// `T = c`.

private struct InitialValueAndHorizon: ParameterDependence {
    func initialState<S: DiffEqScalar>(_ p: [S]) -> [S]? { [p[1]] }
    func endTime<S: DiffEqScalar>(_ p: [S]) -> S? { p[2] }
}

/// `g(u, t) = t u²`: a loss with explicit time dependence, so that the end-time term needs ∂g/∂t.
private struct TimeWeighted: PointLoss {
    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S { u[0] * u[0] * S(t) }
}

@Suite struct ParameterDependenceTests {
    static let a = -0.6, b = 1.4, c = 1.6
    static let methods: [any SensitivityAlgorithm] = [
        ForwardDiffSensitivity(), ForwardSensitivity(), InterpolatingAdjoint(), InterpolatingAdjoint(checkpointing: true),
        QuadratureAdjoint(), BacksolveAdjoint(), CVODESForward(method: .adams),
        CVODESAdjoint(method: .adams, interpolation: .polynomial),
    ]

    private func run<S: SensitivityAlgorithm, L: PointLoss>(_ s: S, _ loss: L, saveat: SaveAt?) throws -> SensitivityResult {
        try gradient(
            of: loss, model: Growth(), u0: [0], tspan: (0, 99), p: [Self.a, Self.b, Self.c],
            dependence: InitialValueAndHorizon(), algorithm: Tsit5(),
            options: SolveOptions(reltol: 1e-10, abstol: 1e-12, saveat: saveat), sensealg: s)
    }

    /// End-state loss `L = u(T)² = b² e^{2ac}`: `dL/da = 2cL`, `dL/db = 2L/b`, `dL/dc = 2aL`.
    @Test func endStateLossThroughInitialValueAndHorizon() throws {
        let (a, b, c) = (Self.a, Self.b, Self.c)
        let L = b * b * Foundation.exp(2 * a * c)
        let exact = [2 * c * L, 2 * L / b, 2 * a * L]
        for method in Self.methods {
            let r = try run(method, SumOfSquaresLoss(), saveat: nil)
            let e = zip(r.dp, exact).map { abs($0 - $1) / abs($1) }.max()!
            print("u0(p), T(p), end-state loss, \(r.method): dp \(r.dp), rel err \(e)")
            #expect(e < 1e-7, "\(r.method): \(r.dp) vs \(exact)")
            #expect(abs(r.loss - L) < 1e-8 * L)
            // du0 stays the derivative at fixed p: dL/du0 = 2 u(T) e^{ac} = 2L/b.
            #expect(abs(r.du0[0] - 2 * L / b) < 1e-7 * (2 * L / b))
        }
    }

    /// Observations on a fixed grid plus the moving end, with a time-weighted loss
    /// `L = Σ_k t_k b² e^{2a t_k}`: only the last term moves with `c`,
    /// `dL/dc = b² e^{2ac} (1 + 2ac)`.
    @Test func gridLossWithExplicitTimeDependence() throws {
        let (a, b, c) = (Self.a, Self.b, Self.c)
        let grid = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, c]
        var exact = [0.0, 0.0, 0.0]
        var L = 0.0
        for t in grid {
            let term = t * b * b * Foundation.exp(2 * a * t)
            L += term
            exact[0] += 2 * t * term
            exact[1] += 2 * term / b
        }
        exact[2] = b * b * Foundation.exp(2 * a * c) * (1 + 2 * a * c)
        for method in Self.methods {
            let r = try run(method, TimeWeighted(), saveat: .every(0.25))
            let e = zip(r.dp, exact).map { abs($0 - $1) / abs($1) }.max()!
            print("u0(p), T(p), time-weighted grid loss, \(r.method): dp \(r.dp), rel err \(e)")
            #expect(e < 1e-7, "\(r.method): \(r.dp) vs \(exact)")
            #expect(abs(r.loss - L) < 1e-8 * L)
        }
    }

    @Test func aHorizonBeforeTheStartIsRejected() {
        struct Backward: ParameterDependence {
            func endTime<S: DiffEqScalar>(_ p: [S]) -> S? { -p[2] }
        }
        #expect(throws: SensitivityError.self) {
            try gradient(
                of: SumOfSquaresLoss(), model: Growth(), u0: [1], tspan: (0, 1), p: [Self.a, Self.b, Self.c],
                dependence: Backward(), algorithm: Tsit5(), options: SolveOptions(), sensealg: ForwardDiffSensitivity())
        }
    }
}

@Suite struct AutoSensitivityTests {
    /// `u' = A u` with `A` (3x3, row-major) as the parameters: n + np = 12.
    private struct Linear3: ODEModel {
        func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
            for i in 0..<3 { du[i] = p[3 * i] * u[0] + p[3 * i + 1] * u[1] + p[3 * i + 2] * u[2] }
        }
    }

    @Test func smallProblemsUseForwardModeAndLargeOnesTheQuadratureAdjoint() throws {
        let A = [-0.5, 0.2, 0.0, 0.1, -0.3, 0.2, 0.0, 0.3, -0.4]
        let prob = ODEProblem(model: Linear3(), u0: [1, 0.5, -0.2], tspan: (0, 2), p: A)
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-12, saveat: .every(0.5))
        let small = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options)
        #expect(small.method == "AutoSensitivity → ForwardDiffSensitivity")
        let large = try gradient(
            of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options,
            sensealg: AutoSensitivity(forwardModeLimit: 8))
        #expect(large.method == "AutoSensitivity → QuadratureAdjoint")
        let scale = (small.dp + small.du0).map(abs).max()!
        let diff = zip(small.dp + small.du0, large.dp + large.du0).map { abs($0 - $1) }.max()!
        #expect(diff < 1e-7 * scale, "forward mode and the adjoint disagree by \(diff)")
        #expect(AutoSensitivity().choice(states: 50, parameters: 100).name == "QuadratureAdjoint")
        #expect(AutoSensitivity().choice(states: 2, parameters: 4).name == "ForwardDiffSensitivity")
        // Many observations favour forward mode (the published POLLU setup: 20 states, 25
        // parameters, 121 observations), up to n + np = 100.
        #expect(AutoSensitivity().choice(states: 20, parameters: 25, observations: 121).name == "ForwardDiffSensitivity")
        #expect(AutoSensitivity().choice(states: 20, parameters: 25, observations: 11).name == "QuadratureAdjoint")
        #expect(AutoSensitivity().choice(states: 50, parameters: 100, observations: 1000).name == "QuadratureAdjoint")
    }
}
