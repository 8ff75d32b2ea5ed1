import DiffEqCore
import ExplicitRK
import Sensitivity
import StiffSolvers
import Testing

// The reusable gradient context: the same bits as a fresh gradient at every point of a sequence
// (so nothing of one call leaks into the next), a pullback after a forward pass equal to the
// gradient of the linear loss and to central differences, and its checks on bad input.

/// Lotka-Volterra, n + np = 6 (the VJP engine's dual-number products).
private struct LV: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
    }
}

/// A damped, coupled three-state system with eight parameters (n + np = 11 > 8: the
/// reverse-mode tape's products and the compressed Jacobians of the stiff solves).
private struct Coupled: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = -p[0] * u[0] + p[1] * u[1] * u[2]
        du[1] = p[2] * u[0] - p[3] * u[1] - p[4] * u[1] * u[1]
        du[2] = p[5] * sin(u[0]) - p[6] * u[2] + p[7]
    }
}

/// The same bits from a context called at several points in turn as from a fresh gradient at
/// each, for every sensealg with state a context keeps.
private func checkSameBits<M: ODEModel, A: ODEAlgorithm, S: SensitivityAlgorithm>(
    _ model: M, u0: [Double], p: [Double], algorithm: A, options: SolveOptions, sensealg: S
) throws {
    let context = try GradientContext(
        model: model, u0: u0, tspan: (0, 2), p: p, algorithm: algorithm, options: options, sensealg: sensealg)
    for k in 0..<3 {
        let scale = 1 + 0.05 * Double(k)
        let pk = p.map { $0 * scale }
        let uk = u0.map { $0 / scale }
        let fresh = try gradient(
            of: SumOfSquaresLoss(), ODEProblem(model: model, u0: uk, tspan: (0, 2), p: pk), algorithm: algorithm,
            options: options, sensealg: sensealg)
        let reused = try context.gradient(of: SumOfSquaresLoss(), u0: uk, p: pk)
        #expect(reused.loss == fresh.loss, "\(sensealg.name) point \(k) loss")
        #expect(reused.dp == fresh.dp, "\(sensealg.name) point \(k) dp")
        #expect(reused.du0 == fresh.du0, "\(sensealg.name) point \(k) du0")
        #expect(reused.stats == fresh.stats, "\(sensealg.name) point \(k): \(reused.stats) vs \(fresh.stats)")
    }
}

@Suite("GradientContext")
struct GradientContextTests {
    let lvOptions = SolveOptions(reltol: 1e-9, abstol: 1e-11, saveat: .every(0.25))

    @Test func sameBitsAsFreshGradientsNonStiff() throws {
        for model in [0, 1] {
            func run<S: SensitivityAlgorithm>(_ s: S) throws {
                if model == 0 {
                    try checkSameBits(LV(), u0: [1, 1], p: [1.5, 1, 3, 1], algorithm: Tsit5(), options: lvOptions, sensealg: s)
                } else {
                    try checkSameBits(
                        Coupled(), u0: [1, 0.5, -0.2], p: [0.8, 0.3, 0.5, 0.4, 0.2, 1.1, 0.7, 0.1], algorithm: Tsit5(),
                        options: lvOptions, sensealg: s)
                }
            }
            try run(QuadratureAdjoint())
            try run(InterpolatingAdjoint())
            try run(InterpolatingAdjoint(checkpointing: true))
            try run(BacksolveAdjoint(checkpointing: true))
            try run(ForwardDiffSensitivity())
            try run(ForwardSensitivity())
            try run(AutoSensitivity())
        }
    }

    /// Stiff backward solves (Rodas5P): the stage Jacobian and compressed Jacobians a reused
    /// workspace holds are rebuilt or reset at each point.
    @Test func sameBitsAsFreshGradientsStiff() throws {
        let options = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .every(0.5))
        let p = [0.8, 0.3, 0.5, 0.4, 0.2, 1.1, 0.7, 0.1]
        try checkSameBits(Coupled(), u0: [1, 0.5, -0.2], p: p, algorithm: Rodas5P(), options: options, sensealg: QuadratureAdjoint())
        try checkSameBits(Coupled(), u0: [1, 0.5, -0.2], p: p, algorithm: Rodas5P(), options: options, sensealg: InterpolatingAdjoint())
        try checkSameBits(LV(), u0: [1, 1], p: [1.5, 1, 3, 1], algorithm: Rodas5P(), options: options, sensealg: QuadratureAdjoint())
    }

    /// A pullback after a forward pass: the same bits as the gradient of the linear loss
    /// `Σ c_kᵀ u(t_k)` from a fresh call (the backward pass reuses the kept forward solve, which
    /// is the one a fresh call makes), twice at the same point with other cotangents, and
    /// central differences of tight Vern9 solves.
    @Test func pullbackAfterForwardMatchesFreshAndCentralDifferences() throws {
        let times = [0.3, 0.8, 0.8, 1.4, 2.0]
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-12, saveat: .times(times))
        let u0 = [1.0, 0.5, -0.2], p = [0.8, 0.3, 0.5, 0.4, 0.2, 1.1, 0.7, 0.1]
        let c1: [[Double]] = [[0.3, -1, 0.2], [1.1, 0.2, 0], [-0.5, 0.4, 0.7], [0.25, 0.25, -0.1], [0.8, -0.6, 0.3]]
        let c2 = c1.map { $0.map { 1 - $0 } }
        func run<S: SensitivityAlgorithm>(_ s: S) throws -> [SensitivityResult] {
            let context = try GradientContext(
                model: Coupled(), u0: u0, tspan: (0, 2), p: p, algorithm: Tsit5(), options: options, sensealg: s)
            let states = try context.forward(u0: u0, p: p)
            #expect(states.count == times.count)
            #expect(context.hasForwardPass(u0: u0, p: p))
            var out: [SensitivityResult] = []
            for c in [c1, c2] {
                let r = try context.pullback(c)
                let fresh = try gradient(
                    of: CotangentLoss(times: times, cotangents: c), ODEProblem(model: Coupled(), u0: u0, tspan: (0, 2), p: p),
                    algorithm: Tsit5(), options: options, sensealg: s)
                #expect(r.dp == fresh.dp, "\(s.name) dp")
                #expect(r.du0 == fresh.du0, "\(s.name) du0")
                #expect(r.loss == fresh.loss, "\(s.name) loss")
                out.append(r)
            }
            return out
        }
        func linear(_ u0: [Double], _ p: [Double], _ c: [[Double]]) throws -> Double {
            let sol = try Vern9().solve(
                ODEProblem(model: Coupled(), u0: u0, tspan: (0, 2), p: p),
                options: SolveOptions(reltol: 1e-13, abstol: 1e-13, saveat: .times(times)))
            var s = 0.0
            for k in times.indices { for i in 0..<3 { s += c[k][i] * sol.u[k][i] } }
            return s
        }
        func differences(_ c: [[Double]]) throws -> (dp: [Double], du0: [Double]) {
            let theta = p + u0
            var g = [Double](repeating: 0, count: theta.count)
            for j in theta.indices {
                let h = 1e-5 * max(1, abs(theta[j]))
                var a = theta, b = theta
                a[j] += h
                b[j] -= h
                g[j] = (try linear(Array(a[8...]), Array(a[..<8]), c) - linear(Array(b[8...]), Array(b[..<8]), c)) / (2 * h)
            }
            return (Array(g[..<8]), Array(g[8...]))
        }
        let fd = [try differences(c1), try differences(c2)]
        let methods: [(String, [SensitivityResult])] = [
            ("QuadratureAdjoint", try run(QuadratureAdjoint())), ("InterpolatingAdjoint", try run(InterpolatingAdjoint())),
            ("BacksolveAdjoint", try run(BacksolveAdjoint(checkpointing: true))),
            ("ForwardDiffSensitivity", try run(ForwardDiffSensitivity())),
        ]
        for (name, results) in methods {
            for (r, d) in zip(results, fd) {
                // Central differences: truncation O(h²) ≈ 1e-10, the solves' 1e-13 / h ≈ 1e-8.
                #expect(relativeError(r.dp, d.dp) < 1e-6, "\(name) dp vs central differences: \(relativeError(r.dp, d.dp))")
                #expect(relativeError(r.du0, d.du0) < 1e-6, "\(name) du0 vs central differences: \(relativeError(r.du0, d.du0))")
            }
            // Against forward mode, another method altogether.
            for (r, f) in zip(results, methods[3].1) {
                #expect(relativeError(r.dp, f.dp) < 1e-7, "\(name) dp vs ForwardDiffSensitivity")
            }
        }
    }

    @Test func badInputGivesTypedErrors() throws {
        let context = try GradientContext(
            model: LV(), u0: [1, 1], tspan: (0, 1), p: [1.5, 1, 3, 1], algorithm: Tsit5(), options: lvOptions,
            sensealg: QuadratureAdjoint())
        #expect(throws: SensitivityError.unsupported("a pullback needs a forward pass first: call forward(u0:p:)")) {
            try context.pullback([[1, 1]])
        }
        #expect(throws: SensitivityError.invalidInput(.dimensionMismatch(what: "u0", expected: 2, got: 3))) {
            try context.gradient(of: SumOfSquaresLoss(), u0: [1, 1, 1], p: [1.5, 1, 3, 1])
        }
        #expect(throws: SensitivityError.invalidInput(.dimensionMismatch(what: "p", expected: 4, got: 2))) {
            try context.forward(u0: [1, 1], p: [1, 2])
        }
        #expect(throws: SensitivityError.invalidInput(.nonFiniteInitialState(component: 1))) {
            try context.forward(u0: [1, .nan], p: [1.5, 1, 3, 1])
        }
        let states = try context.forward(u0: [1, 1], p: [1.5, 1, 3, 1])
        #expect(throws: SensitivityError.invalidInput(.dimensionMismatch(what: "cotangents", expected: states.count, got: 1))) {
            try context.pullback([[1, 1]])
        }
        var c = [[Double]](repeating: [1, 0], count: states.count)
        c[2] = [1]
        #expect(throws: SensitivityError.invalidInput(.dimensionMismatch(what: "cotangents[2]", expected: 2, got: 1))) {
            try context.pullback(c)
        }
        c[2] = [.infinity, 0]
        #expect(throws: SensitivityError.self) { try context.pullback(c) }
        // The context still works after every refusal.
        c[2] = [1, 0]
        #expect(try context.pullback(c).dp.allSatisfy(\.isFinite))
        #expect(throws: SensitivityError.self) {
            try GradientContext(
                model: LV(), u0: [1, 1], tspan: (1, 0), p: [1.5, 1, 3, 1], algorithm: Tsit5(), options: lvOptions,
                sensealg: QuadratureAdjoint())
        }
    }
}
