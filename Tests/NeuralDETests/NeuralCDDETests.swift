import DelayDE
import DiffEqCore
import ExplicitRK
import Foundation
import NeuralDE
import NeuralNetworks
import Sensitivity
import Testing

// NeuralCDDE: du/dt = NN([u(t); u(t − τ)]; θ) with a learnable lag, trained on the solution of
// u' = −u(t − 1), φ = 1 (the linear test equation), saved every 0.25 on [0, 3].

/// Σ_k (u(t_k) − y_k)² against targets on the grid t_k = k·0.25.
private struct TargetLoss: PointLoss {
    let targets: [Double]
    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S {
        let r = u[0] - S(targets[Int((t / 0.25).rounded())])
        return r * r
    }
}

/// The data: u' = −u(t − 1), φ = 1, on the save grid (Vern9, 1e-12).
private func targets() throws -> [Double] {
    let prob = DDEProblem(
        f: { du, u, h, p, t in du[0] = -h(p, t - 1, idxs: 0) }, u0: [1.0], history: { _, _ in [1.0] }, tspan: (0, 3),
        constantLags: [1])
    return try solve(prob, MethodOfSteps(Vern9()), reltol: 1e-12, abstol: 1e-12, saveat: .every(0.25)).u.map { $0[0] }
}

/// Central differences, Richardson-extrapolated over δ and δ/2, δ = 1e-3·max(1, |x_i|).
private func differences(_ x: [Double], _ g: ([Double]) throws -> Double) rethrows -> [Double] {
    try x.indices.map { i in
        func d(_ delta: Double) throws -> Double {
            var a = x, b = x
            a[i] += delta
            b[i] -= delta
            return (try g(a) - g(b)) / (2 * delta)
        }
        let delta = 1e-3 * max(1, abs(x[i]))
        return (4 * (try d(delta / 2)) - (try d(delta))) / 3
    }
}

@Suite struct NeuralCDDETests {
    let chain: Chain<Double>
    init() throws { chain = try Chain<Double>(.dense(2, 5, .tanh), .dense(5, 1)) }

    /// dL/d[θ; log τ] by the discrete adjoint and by forward mode, each against central
    /// differences of the loss (re-solving, so the stops at τ, 2τ move), 1e-6 relative on
    /// every entry larger than 1e-3 of the largest, and 1e-9 of the largest absolute below.
    @Test func gradientMatchesCentralDifferences() throws {
        let y = try targets()
        let loss = TargetLoss(targets: y)
        let adjoint = try NeuralCDDE(
            chain, lagCount: 1, history: [1], tspan: (0, 3), MethodOfSteps(Vern9()), saveat: .every(0.25),
            sensealg: ReverseDiffAdjoint(), reltol: 1e-12, abstol: 1e-12)
        let forward = try NeuralCDDE(
            chain, lagCount: 1, history: [1], tspan: (0, 3), MethodOfSteps(Vern9()), saveat: .every(0.25),
            sensealg: ForwardDiffSensitivity(), reltol: 1e-12, abstol: 1e-12)
        let x = try adjoint.trainableParameters(network: chain.initialParameters(seed: 3), lags: [0.7])
        let (la, ga) = try adjoint.lossAndGradient(of: loss, u0: [1], parameters: x)
        let (lf, gf) = try forward.lossAndGradient(of: loss, u0: [1], parameters: x)
        let fd = try differences(x) { x in try adjoint([1], parameters: x).enumerated().reduce(0) { $0 + loss($1.element, Double($1.offset) * 0.25) } }
        #expect(abs(la - lf) <= 1e-12 * la)
        let scale = fd.map(abs).max()!
        print("NeuralCDDE loss \(la), dL/dlog τ: adjoint \(ga.last!) forward \(gf.last!) differences \(fd.last!), largest |g| \(scale)")
        for i in x.indices {
            let tol = max(1e-6 * abs(fd[i]), 1e-9 * scale)
            #expect(abs(ga[i] - fd[i]) <= tol, "entry \(i): adjoint \(ga[i]), differences \(fd[i])")
            #expect(abs(gf[i] - fd[i]) <= tol, "entry \(i): forward \(gf[i]), differences \(fd[i])")
        }
    }

    /// Adam(0.02), 40 iterations, gradients by the discrete adjoint (Tsit5 at 1e-8): the loss
    /// falls and the lag moves (deterministic: seeded weights, no randomness in the loop).
    @Test func adamTrainingDecreasesTheLoss() throws {
        let loss = TargetLoss(targets: try targets())
        let cdde = try NeuralCDDE(
            chain, lagCount: 1, history: [1], tspan: (0, 3), MethodOfSteps(Tsit5()), saveat: .every(0.25),
            sensealg: ReverseDiffAdjoint(), reltol: 1e-8, abstol: 1e-10)
        var x = try cdde.trainableParameters(network: chain.initialParameters(seed: 3), lags: [0.7])
        var adam = try Adam<Double>(0.02)
        let result = try train(&x, optimizer: &adam, iterations: 40) { x, g in
            let (l, dx) = try cdde.lossAndGradient(of: loss, u0: [1], parameters: x)
            g = dx
            return l
        }
        let first = result.lossHistory.first!, last = result.lossHistory.last!
        print("NeuralCDDE training: loss \(first) -> \(last), lag 0.7 -> \(cdde.lags(of: x)[0]), status \(result.status)")
        #expect(result.status == .completed)
        #expect(last < 0.2 * first)
        #expect(abs(cdde.lags(of: x)[0] - 0.7) > 1e-3)
    }

    /// Bad input gets a typed error before any solve.
    @Test func badInputIsRefused() throws {
        let cdde = try NeuralCDDE(
            chain, lagCount: 1, history: [1], tspan: (0, 3), MethodOfSteps(Tsit5()), saveat: .every(0.25),
            sensealg: ReverseDiffAdjoint())
        let θ = chain.initialParameters(seed: 0)
        #expect(throws: NeuralDEError.delay(.invalidInput(.invalidLag(index: 0, value: -0.5)))) {
            try cdde.trainableParameters(network: θ, lags: [-0.5])
        }
        #expect(throws: NeuralDEError.delay(.invalidInput(.invalidLag(index: 0, value: 0)))) {
            try cdde.trainableParameters(network: θ, lags: [0])
        }
        let nanLag = #expect(throws: NeuralDEError.self) { try cdde.trainableParameters(network: θ, lags: [.nan]) }
        #expect(nanLag.map { "\($0)" } == "delay equation: invalid input: constant lag 0 must be positive and finite, got nan")
        #expect(throws: NeuralDEError.wrongLength(what: "lags", expected: 1, got: 2)) {
            try cdde.trainableParameters(network: θ, lags: [0.5, 0.5])
        }
        let x = try cdde.trainableParameters(network: θ, lags: [0.5])
        #expect(throws: NeuralDEError.wrongLength(what: "u0", expected: 1, got: 2)) { try cdde([1, 1], parameters: x) }
        #expect(throws: NeuralDEError.wrongLength(what: "parameters", expected: x.count, got: x.count - 1)) {
            try cdde([1], parameters: Array(x.dropLast()))
        }
        var bad = x
        bad[bad.count - 1] = .nan
        #expect(throws: NeuralDEError.nonFinite(what: "parameters", index: x.count - 1)) { try cdde([1], parameters: bad) }
        // A log-lag so large that exp overflows: the lag is infinite.
        bad[bad.count - 1] = 800
        #expect(throws: NeuralDEError.delay(.invalidInput(.invalidLag(index: 0, value: .infinity)))) {
            try cdde([1], parameters: bad)
        }
        // The chain must read u(t) and u(t − τ) (2 inputs for a 1-state, 1-lag network).
        let square = try Chain<Double>(.dense(1, 4, .tanh), .dense(4, 1))
        #expect(throws: NeuralDEError.self) {
            try NeuralCDDE(square, lagCount: 1, history: [1], tspan: (0, 1), MethodOfSteps(Tsit5()), sensealg: ReverseDiffAdjoint())
        }
        #expect(throws: NeuralDEError.wrongLength(what: "history", expected: 1, got: 2)) {
            try NeuralCDDE(chain, lagCount: 1, history: [1, 1], tspan: (0, 1), MethodOfSteps(Tsit5()), sensealg: ReverseDiffAdjoint())
        }
        #expect(throws: NeuralDEError.nonFinite(what: "history", index: 0)) {
            try NeuralCDDE(chain, lagCount: 1, history: [.nan], tspan: (0, 1), MethodOfSteps(Tsit5()), sensealg: ReverseDiffAdjoint())
        }
    }
}
