import DiffEqCore
import ExplicitRK
import Foundation
import NeuralDE
import NeuralNetworks
import Sensitivity
import Testing

// The seed's spiral under the peers' protocol (Data/peers/README.md): deterministic training,
// and the loss the peers reach from the same data and initial weights.

func peerSpiralWeights(_ chain: Chain<Double>) throws -> [Double] {
    struct File: Decodable {
        let W1: [[Double]], b1: [Double], W2: [[Double]], b2: [Double]
    }
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Data/peers/spiral_init_seed0.json")
    let w = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
    var p = [Double](repeating: 0, count: chain.parameterCount)
    try chain.assign(rows: w.W1, to: "layer_2.weight", in: &p)
    try chain.assign(w.b1, to: "layer_2.bias", in: &p)
    try chain.assign(rows: w.W2, to: "layer_3.weight", in: &p)
    try chain.assign(w.b2, to: "layer_3.bias", in: &p)
    return p
}

/// The peers' spiral training problem: the seed's network (`x³`, 2→50 tanh, 50→2) with the
/// peers' initial weights `p0`, its neural ODE on [0, 1.5] saving at the data's times (Tsit5,
/// reltol 1e-7, abstol 1e-9, the default sensealg) and the squared error against the data.
func peerSpiralTraining() throws -> (
    node: NeuralODE<Double, Tsit5, AutoSensitivity>, p0: [Double], loss: SquaredErrorLoss
) {
    let (ts, data) = try peerSpiralData()
    let chain = try Chain<Double>(.power(3), .dense(2, 50, .tanh), .dense(50, 2))
    let node = try NeuralODE(chain, tspan: (0, 1.5), Tsit5(), saveat: .times(ts), reltol: 1e-7, abstol: 1e-9)
    return (node, try peerSpiralWeights(chain), try SquaredErrorLoss(data: data))
}

@Suite("Spiral training")
struct SpiralTrainingTests {
    /// 300 Adam(0.1) iterations with the default sensealg, twice: the same loss sequence bit
    /// for bit; the loss at the start is the peers' (217.5, all of them); after 300 iterations
    /// it is in the range the peers reach.
    @Test func deterministicTrainingReachesThePeersLoss() throws {
        let (node, p0, loss) = try peerSpiralTraining()
        func run() throws -> [Double] {
            var p = p0
            let layer = try node.makeLayer(u0: [2, 0], parameters: p)
            var adam = try Adam<Double>(0.1)
            let result = try train(&p, optimizer: &adam, iterations: 300, lossAndGradient: layer.lossAndGradient(u0: [2, 0]) { s, c in try loss(s, &c) })
            #expect(result.status == .completed)
            return result.lossHistory
        }
        let first = try run()
        let second = try run()
        #expect(first.count == 301)
        #expect(first == second)
        #expect(abs(first[0] - 217.473) < 1e-3, "loss at the start \(first[0]); the peers report 217.5")
        let final = first[300]
        // Measured here: 0.21455 with the default sensealg's choice, DiscreteAdjoint (the exact
        // gradient of the computed loss); before it chose DiscreteAdjoint, 0.19692
        // (QuadratureAdjoint), 0.19776 (InterpolatingAdjoint), 0.20096 (BacksolveAdjoint with
        // checkpoints), whose gradients agree to 1e-6 at the start; the peers from the same
        // start: diffrax 0.29 (checkpointed) and 0.21 (backsolve), torchdiffeq 0.25. Adam's loss at
        // iteration 300 is not a smooth function of the gradient's last digits (it oscillates
        // between 0.2 and 0.5 over iterations 200-300), so the peers' spread is the meaningful band.
        #expect(final >= 0.2 && final <= 0.3, "loss after 300 Adam iterations \(final)")
    }
}

/// The seed's Lotka-Volterra fit (u0 = [1, 1], t in [0, 10], p0 = [2.2, 1, 2, 0.4], saveat 0.1,
/// loss Σ(u1(t_k) − 1)², Adam(0.1), 100 iterations) through the solve layer: the same loss
/// sequence on every run, and the same curve from forward mode and from the interpolating
/// adjoint (their gradients differ only by the solves' tolerance-level errors).
@Test func lotkaVolterraFitIsDeterministic() throws {
    struct LV: ODEModel {
        func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
            du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
            du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
        }
    }
    let options = SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(0.1))
    func fit<S: SensitivityAlgorithm>(_ s: S) throws -> [Double] {
        var p = [2.2, 1.0, 2.0, 0.4]
        let layer = try SolveLayer(model: LV(), u0: [1, 1], tspan: (0, 10), p: p, algorithm: Tsit5(), options: options, sensealg: s)
        var adam = try Adam<Double>(0.1)
        let objective = layer.lossAndGradient(u0: [1, 1]) { states, c in
            var l = 0.0
            for k in states.indices {
                l += (states[k][0] - 1) * (states[k][0] - 1)
                c[k][0] = 2 * (states[k][0] - 1)
            }
            return l
        }
        return try train(&p, optimizer: &adam, iterations: 100, lossAndGradient: objective).lossHistory
    }
    let a = try fit(ForwardDiffSensitivity()), b = try fit(ForwardDiffSensitivity())
    #expect(a.count == 101 && a == b)
    let c = try fit(InterpolatingAdjoint())
    #expect(relativeDistance(c, a) < 1e-6, "\(relativeDistance(c, a))")
    // The script's figure: 0.270907 after 100 iterations (all seven sensealgs within 1.2e-5).
    #expect(abs(a[100] - 0.270907) < 1e-5, "\(a[100])")
}

/// The default sensealg of a realistic network (252 parameters, 30 observations) solved by Tsit5
/// is the discrete adjoint, and its products are the network's own.
@Test func defaultSensealgOfTheSpiralIsTheDiscreteAdjoint() throws {
    let (node, p, loss) = try peerSpiralTraining()
    let (value, g) = try node.makeLayer(u0: [2, 0], parameters: p).valueAndGradient(u0: [2, 0], p: p) { s, c in try loss(s, &c) }
    #expect(g.method == "AutoSensitivity → DiscreteAdjoint")
    #expect(g.stats.vjps > 0)
    #expect(abs(value - 217.473) < 1e-3)
}
