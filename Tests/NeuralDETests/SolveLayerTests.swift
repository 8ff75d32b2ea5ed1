import DiffEqCore
import ExplicitRK
import Foundation
import NeuralDE
import NeuralNetworks
import Sensitivity
import SundialsBridge
import Testing
import SensitivityCVODES

// The solve as a layer: its pullback of arbitrary cotangents against central differences of
// tight solves, every sensealg against the others, the two seed forms of a chain with a solve
// inside, and the checks on bad input.

/// `Σ_k c_kᵀ u(t_k)` by a tight plain solve.
func linearFunctional<M: ODEModel>(
    _ model: M, u0: [Double], p: [Double], tspan: (Double, Double), times: [Double], cotangents: [[Double]]
) throws -> Double {
    let sol = try Vern9().solve(
        ODEProblem(model: model, u0: u0, tspan: tspan, p: p),
        options: SolveOptions(reltol: 1e-13, abstol: 1e-13, saveat: .times(times)))
    #expect(sol.retcode.isSuccessful)
    var s = 0.0
    for k in times.indices { for i in u0.indices { s += cotangents[k][i] * sol.u[k][i] } }
    return s
}

/// Central differences of `φ(θ)`, step `h·max(floor, |θ_j|)` (with the defaults, error O(h²) ≈
/// 1e-10 plus the solves' 1e-13 / h ≈ 1e-8, relative to entries of order one).
func centralDifferences(_ theta: [Double], h: Double = 1e-5, floor: Double = 1, _ phi: ([Double]) throws -> Double) rethrows -> [Double] {
    try theta.indices.map { j in
        let step = h * max(floor, abs(theta[j]))
        var plus = theta, minus = theta
        plus[j] += step
        minus[j] -= step
        return (try phi(plus) - phi(minus)) / (2 * step)
    }
}

/// Every sensealg that pulls back cotangents, with the algorithm of its forward pass.
func pullbacks<M: ODEModel>(
    model: M, u0: [Double], p: [Double], tspan: (Double, Double), times: [Double], cotangents: [[Double]],
    reltol: Double, abstol: Double
) throws -> [(String, SolvePullbackResult)] {
    let options = SolveOptions(reltol: reltol, abstol: .scalar(abstol), saveat: .times(times))
    func run<S: SensitivityAlgorithm>(_ s: S) throws -> (String, SolvePullbackResult) {
        let layer = try SolveLayer(model: model, u0: u0, tspan: tspan, p: p, algorithm: Tsit5(), options: options, sensealg: s)
        return (s.name, try layer.pullback(u0: u0, p: p, cotangents: cotangents))
    }
    return [
        try run(InterpolatingAdjoint()), try run(QuadratureAdjoint()), try run(BacksolveAdjoint(checkpointing: true)),
        try run(ForwardDiffSensitivity()), try run(ForwardSensitivity()),
        try run(CVODESAdjoint(method: .adams)), try run(CVODESForward(method: .adams)), try run(DiscreteAdjoint()),
    ]
}

@Suite("SolveLayer")
struct SolveLayerTests {
    let chain: Chain<Double>
    let model: NetworkRHS<Double>
    let times = [0.2, 0.45, 0.7, 0.7, 1.0]
    let cotangents = [[0.3, -1.0], [1.1, 0.2], [-0.5, 0.4], [0.25, 0.25], [0.8, -0.6]]
    let u0 = [1.2, -0.3]

    init() throws {
        chain = try Chain<Double>(.dense(2, 4, .tanh), .dense(4, 2))
        model = try NetworkRHS(chain)
    }

    @Test func pullbackMatchesCentralDifferencesForEverySensealg() throws {
        let p = chain.initialParameters(seed: 11)
        let fdP = try centralDifferences(p) {
            try linearFunctional(model, u0: u0, p: $0, tspan: (0, 1), times: times, cotangents: cotangents)
        }
        let fdU = try centralDifferences(u0) {
            try linearFunctional(model, u0: $0, p: p, tspan: (0, 1), times: times, cotangents: cotangents)
        }
        let results = try pullbacks(
            model: model, u0: u0, p: p, tspan: (0, 1), times: times, cotangents: cotangents, reltol: 1e-10, abstol: 1e-12)
        for (name, r) in results {
            #expect(relativeDistance(r.dp, fdP) < 1e-6, "\(name) dp: \(relativeDistance(r.dp, fdP))")
            #expect(relativeDistance(r.du0, fdU) < 1e-6, "\(name) du0: \(relativeDistance(r.du0, fdU))")
        }
    }

    /// The spiral's network shape (smaller hidden layer), loss = sum of squared errors against
    /// the peers' data: every applicable sensealg within 1e-6 of forward mode at tight
    /// tolerances.
    @Test func neuralODEGradientsAgreeAcrossSensealgs() throws {
        let (ts, data) = try peerSpiralData()
        let small = try Chain<Double>(.power(3), .dense(2, 8, .tanh), .dense(8, 2))
        let p = small.initialParameters(seed: 0)
        let loss = try SquaredErrorLoss(data: data)
        func run<S: SensitivityAlgorithm>(_ s: S) throws -> (String, Double, [Double]) {
            let node = try NeuralODE(small, tspan: (0, 1.5), Tsit5(), saveat: .times(ts), sensealg: s, reltol: 1e-10, abstol: 1e-12)
            let layer = try node.makeLayer(u0: [2, 0], parameters: p)
            let (value, g) = try layer.valueAndGradient(u0: [2, 0], p: p) { s, c in try loss(s, &c) }
            return (s.name, value, g.dp)
        }
        let reference = try run(ForwardDiffSensitivity())
        let others = [
            try run(InterpolatingAdjoint()), try run(QuadratureAdjoint()), try run(BacksolveAdjoint(checkpointing: true)),
            try run(ForwardSensitivity()), try run(AutoSensitivity()), try run(CVODESAdjoint(method: .adams)),
            try run(DiscreteAdjoint()),
        ]
        for (name, value, g) in others {
            #expect(abs(value - reference.1) <= 1e-8 * abs(reference.1), "\(name) loss")
            #expect(relativeDistance(g, reference.2) < 1e-6, "\(name): \(relativeDistance(g, reference.2))")
        }
    }

    /// Seed form 1, `θ -> p = net(x; θ) -> solve(prob, p: p)[0, :] -> L`: the previous layer
    /// gives the ODE's parameters (Lotka-Volterra); the gradient with respect to θ by the solve's
    /// pullback and the network's, against central differences of the whole composition.
    @Test func chainWithSolveLayerParameterForm() throws {
        struct LV: ODEModel {
            func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
                du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
                du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
            }
        }
        let hyper = try Chain<Double>(.dense(2, 4, .softplus))
        let x = [0.5, -0.3]
        let theta = hyper.initialParameters(seed: 5)
        let times = (1...10).map { 0.1 * Double($0) }
        let options = SolveOptions(reltol: 1e-11, abstol: 1e-12, saveat: .times(times))
        func composition(_ theta: [Double]) throws -> Double {
            let p = try hyper(x, parameters: theta)
            let sol = try Vern9().solve(
                ODEProblem(model: LV(), u0: [1, 1], tspan: (0, 1), p: p),
                options: SolveOptions(reltol: 1e-13, abstol: 1e-13, saveat: .times(times)))
            return sol.u.reduce(0.0) { $0 + ($1[0] - 1) * ($1[0] - 1) }
        }
        // Forward through the layers, then back.
        var ws = hyper.makeWorkspace()
        var p = [Double](repeating: 0, count: 4)
        try hyper.forward(x, parameters: theta, workspace: &ws, into: &p)
        let layer = try SolveLayer(
            model: LV(), u0: [1, 1], tspan: (0, 1), p: p, algorithm: Tsit5(), options: options, sensealg: InterpolatingAdjoint())
        let (_, g) = try layer.valueAndGradient(u0: [1, 1], p: p) { states, c in
            var s = 0.0
            for k in states.indices {
                s += (states[k][0] - 1) * (states[k][0] - 1)
                c[k][0] = 2 * (states[k][0] - 1)
            }
            return s
        }
        var dx = [0.0, 0.0], dtheta = [Double](repeating: 0, count: theta.count)
        try hyper.pullback(g.dp, parameters: theta, workspace: &ws, inputGradient: &dx, parameterGradient: &dtheta)
        let fd = try centralDifferences(theta, composition)
        #expect(relativeDistance(dtheta, fd) < 1e-6, "\(relativeDistance(dtheta, fd))")
    }

    /// Seed form 2, `x -> u0 = net(x; θ) -> solve(prob, u0: u0) -> L`: the previous layer gives
    /// the initial state of the neural ODE; gradients with respect to x and θ.
    @Test func chainWithSolveLayerInitialStateForm() throws {
        let encoder = try Chain<Double>(.dense(3, 2, .tanh))
        let theta = encoder.initialParameters(seed: 9)
        let pODE = chain.initialParameters(seed: 2)
        let x = [0.4, -0.9, 1.3]
        let times = [0.25, 0.5, 0.75, 1.0]
        let options = SolveOptions(reltol: 1e-11, abstol: 1e-12, saveat: .times(times))
        func composition(_ x: [Double], _ theta: [Double]) throws -> Double {
            let u0 = try encoder(x, parameters: theta)
            let sol = try Vern9().solve(
                ODEProblem(model: model, u0: u0, tspan: (0, 1), p: pODE),
                options: SolveOptions(reltol: 1e-13, abstol: 1e-13, saveat: .times(times)))
            return sol.u.reduce(0.0) { $0 + $1[0] * $1[0] + 0.5 * $1[1] }
        }
        var ws = encoder.makeWorkspace()
        var u0 = [0.0, 0.0]
        try encoder.forward(x, parameters: theta, workspace: &ws, into: &u0)
        let layer = try SolveLayer(
            model: model, u0: u0, tspan: (0, 1), p: pODE, algorithm: Tsit5(), options: options, sensealg: QuadratureAdjoint())
        let (_, g) = try layer.valueAndGradient(u0: u0, p: pODE) { states, c in
            var s = 0.0
            for k in states.indices {
                s += states[k][0] * states[k][0] + 0.5 * states[k][1]
                c[k][0] = 2 * states[k][0]
                c[k][1] = 0.5
            }
            return s
        }
        var dx = [0.0, 0.0, 0.0], dtheta = [Double](repeating: 0, count: theta.count)
        try encoder.pullback(g.du0, parameters: theta, workspace: &ws, inputGradient: &dx, parameterGradient: &dtheta)
        let fdX = try centralDifferences(x) { try composition($0, theta) }
        let fdTheta = try centralDifferences(theta) { try composition(x, $0) }
        #expect(relativeDistance(dx, fdX) < 1e-6, "dx \(relativeDistance(dx, fdX))")
        #expect(relativeDistance(dtheta, fdTheta) < 1e-6, "dθ \(relativeDistance(dtheta, fdTheta))")
    }

    @Test func badInputsGiveTypedErrors() throws {
        let p = chain.initialParameters(seed: 1)
        let node = try NeuralODE(chain, tspan: (0, 1), Tsit5(), saveat: .times(times))
        #expect(throws: NeuralDEError.wrongLength(what: "u0", expected: 2, got: 3)) { try node([1, 2, 3], parameters: p) }
        #expect(throws: NeuralDEError.wrongLength(what: "parameters", expected: p.count, got: 2)) { try node([1, 2], parameters: [1, 2]) }
        #expect(throws: NeuralDEError.nonFinite(what: "u0", index: 1)) { try node([1, .nan], parameters: p) }
        #expect(throws: NeuralDEError.nonFinite(what: "data[2]", index: 0)) {
            try SquaredErrorLoss(data: [[1, 2], [3, 4], [.nan, 1]])
        }
        #expect(throws: NeuralDEError.wrongLength(what: "data[1]", expected: 2, got: 1)) {
            try SquaredErrorLoss(data: [[1, 2], [3]])
        }
        #expect(throws: NeuralDEError.invalidInput(.invalidTimeSpan(t0: 1, t1: 0))) {
            try NeuralODE(chain, tspan: (1, 0), Tsit5())
        }
        let layer = try node.makeLayer(u0: [1, 2], parameters: p)
        #expect(throws: NeuralDEError.wrongLength(what: "cotangents", expected: times.count, got: 1)) {
            try layer.pullback(u0: [1, 2], p: p, cotangents: [[1, 1]])
        }
        let loss = try SquaredErrorLoss(data: [[1, 2], [3, 4]])
        #expect(throws: NeuralDEError.wrongLength(what: "saved states", expected: 2, got: times.count)) {
            _ = try layer.valueAndGradient(u0: [1, 2], p: p) { s, c in try loss(s, &c) }
        }
        // Nothing above solved anything, and the layer still works.
        #expect(try layer.solve(u0: [1, 2], p: p).count == times.count)
    }

    @Test func batchAndAugmentedForms() throws {
        let p = chain.initialParameters(seed: 4)
        let node = try NeuralODE(chain, tspan: (0, 1), Tsit5(), saveat: .times(times), reltol: 1e-9, abstol: 1e-11)
        let batch = try node(batch: [[1, 0], [0.5, -0.5]], parameters: p)
        #expect(batch.count == 2)
        #expect(batch[1] == (try node([0.5, -0.5], parameters: p)))
        let augmented = try AugmentedNeuralODE(node, augmentedCount: 1)
        #expect(try augmented([0.3], parameters: p) == (try node([0.3, 0], parameters: p)))
        #expect(throws: NeuralDEError.self) { try augmented([0.3, 0.1], parameters: p) }
    }
}

/// The peers' spiral data, read from the repository's copy (Data/peers).
func peerSpiralData() throws -> (ts: [Double], data: [[Double]]) {
    struct File: Decodable {
        let ts: [Double]
        let data: [[Double]]
    }
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Data/peers/spiral_data.json")
    let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
    return (file.ts, file.data)
}
