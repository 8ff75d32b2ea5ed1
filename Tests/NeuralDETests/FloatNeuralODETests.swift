import DiffEqCore
import ExplicitRK
import NeuralDE
import NeuralNetworks
import Sensitivity
import Testing

// A neural ODE with a Float network: the solve and the products in Double on the promoted
// parameters (the same states as the Double network's, rounded), the gradient against the
// Double network's, against central differences and against another sensealg, and a Float
// training loop.

@Suite("Float NeuralODE")
struct FloatNeuralODETests {
    let layers: [Layer<Float>] = [.power(3), .dense(2, 8, .tanh), .dense(8, 2)]
    let layersD: [Layer<Double>] = [.power(3), .dense(2, 8, .tanh), .dense(8, 2)]

    @Test func floatNetworkGradientAgreesWithDoubleAndCentralDifferences() throws {
        let (ts, data) = try peerSpiralData()
        let chainF = try Chain<Float>(layers: layers)
        let chainD = try Chain<Double>(layers: layersD)
        let pF = chainF.initialParameters(seed: 3)
        let pD = pF.map(Double.init)
        let loss = try SquaredErrorLoss(data: data)
        func run<S: NeuralDEScalar, M: SensitivityAlgorithm>(_ chain: Chain<S>, _ p: [S], _ s: M) throws -> (
            [[S]], Double, [Double]
        ) {
            let node = try NeuralODE(chain, tspan: (0, 1.5), Tsit5(), saveat: .times(ts), sensealg: s, reltol: 1e-10, abstol: 1e-12)
            let states = try node([2, 0], parameters: p)
            let layer = try node.makeLayer(u0: [2, 0], parameters: p)
            let (value, g) = try layer.valueAndGradient(u0: [2, 0], p: p.map { Double($0) }) { s, c in try loss(s, &c) }
            return (states, value, g.dp)
        }
        let (statesF, lossF, gF) = try run(chainF, pF, QuadratureAdjoint())
        let (statesD, lossD, gD) = try run(chainD, pD, QuadratureAdjoint())
        // The right-hand side runs in Double on the same program and parameters: the same
        // trajectory, rounded to Float on output.
        #expect(statesF == statesD.map { $0.map(Float.init) })
        #expect(lossF == lossD)
        // The products of the Float network run in Double on its instructions (NeuralDEScalar),
        // those of the Double network through BLAS: the same values up to the order of the
        // sums (1e-16 relative), which may move the backward solve's steps by as much; its
        // tolerance (1e-10) bounds what that changes in the gradient, 1e-8 leaves a margin.
        #expect(relativeDistance(gF, gD) < 1e-8, "Float vs Double network: \(relativeDistance(gF, gD))")
        let (_, _, gInterp) = try run(chainF, pF, InterpolatingAdjoint())
        #expect(relativeDistance(gInterp, gF) < 1e-6, "InterpolatingAdjoint vs QuadratureAdjoint: \(relativeDistance(gInterp, gF))")
        // Central differences of tight Double solves of the same right-hand side (the Float
        // network's model, f in Double).
        let model = try NetworkRHS(chainF)
        let fd = try centralDifferences(pD) { p in
            let sol = try Vern9().solve(
                ODEProblem(model: model, u0: [2, 0], tspan: (0, 1.5), p: p),
                options: SolveOptions(reltol: 1e-13, abstol: 1e-13, saveat: .times(ts)))
            var c = [[Double]](repeating: [0, 0], count: ts.count)
            return try loss(sol.u, &c)
        }
        // Central differences: O(h²) ≈ 1e-10 plus the solves' 1e-13 / h ≈ 1e-8.
        #expect(relativeDistance(gF, fd) < 1e-6, "Float network vs central differences: \(relativeDistance(gF, fd))")
    }

    /// Adam in Float on a Float network's parameters, through the layer's Float closure: the
    /// same loss sequence on every run, the first loss the Double network's, and a falling loss.
    @Test func floatTrainingLoop() throws {
        let (ts, data) = try peerSpiralData()
        let chainF = try Chain<Float>(layers: layers)
        let p0 = chainF.initialParameters(seed: 3)
        let loss = try SquaredErrorLoss(data: data)
        let node = try NeuralODE(chainF, tspan: (0, 1.5), Tsit5(), saveat: .times(ts), reltol: 1e-7, abstol: 1e-9)
        func history() throws -> [Float] {
            var p = p0
            let layer = try node.makeLayer(u0: [2, 0], parameters: p)
            var adam = try Adam<Float>(0.05)
            let result = try train(
                &p, optimizer: &adam, iterations: 20,
                lossAndGradient: layer.lossAndGradient(Float.self, u0: [2, 0]) { s, c in try loss(s, &c) })
            #expect(result.status == .completed)
            return result.lossHistory
        }
        let first = try history()
        #expect(first == (try history()))
        let chainD = try Chain<Double>(layers: layersD)
        let nodeD = try NeuralODE(chainD, tspan: (0, 1.5), Tsit5(), saveat: .times(ts), reltol: 1e-7, abstol: 1e-9)
        let layerD = try nodeD.makeLayer(u0: [2, 0], parameters: p0.map(Double.init))
        let (lossD, _) = try layerD.valueAndGradient(u0: [2, 0], p: p0.map(Double.init)) { s, c in try loss(s, &c) }
        #expect(first[0] == Float(lossD))
        #expect(first.last! < first[0], "loss \(first[0]) -> \(first.last!)")
    }
}
