import DiffEqCore
import ExplicitRK
import NeuralDE
import NeuralNetworks
import Sensitivity
import Testing

// A solve as one layer of a reverse-mode sequence, in both of the seed's forms, with the
// gradient of the whole sequence against central differences of the same sequence built on
// tight Vern9 solves.

private struct LV: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
    }
}

@Suite("LayerSequence")
struct CompositionTests {
    /// `x -> encoder -> u0 -> solve -> [u(t_k)] -> readout -> L`: gradients with respect to `x`
    /// and to every parameter (encoder, the neural ODE's, readout).
    @Test func initialStateFormMatchesCentralDifferences() throws {
        let times = [0.25, 0.5, 0.75, 1.0]
        let field = try Chain<Double>(.dense(2, 4, .tanh), .dense(4, 2))
        let pODE = field.initialParameters(seed: 2)
        func sequence<A: ODEAlgorithm, S: SensitivityAlgorithm>(_ alg: A, _ s: S, _ tol: Double) throws -> LayerSequence {
            let node = try NeuralODE(field, tspan: (0, 1), alg, saveat: .times(times), sensealg: s, reltol: tol, abstol: tol)
            let solve = try ODELayer(node.makeLayer(u0: [0, 0], parameters: pODE), input: .initialState, u0: [0, 0])
            return try LayerSequence([
                NetworkLayer(try Chain<Double>(.dense(3, 2, .tanh))), solve,
                NetworkLayer(try Chain<Double>(.dense(8, 1, .identity))),
            ])
        }
        let model = try sequence(Tsit5(), QuadratureAdjoint(), 1e-12)
        let reference = try sequence(Vern9(), QuadratureAdjoint(), 1e-13)
        let encoder = try Chain<Double>(.dense(3, 2, .tanh)).initialParameters(seed: 9)
        let readout = try Chain<Double>(.dense(8, 1, .identity)).initialParameters(seed: 4)
        let theta = encoder + pODE + readout
        #expect(model.parameterCount == theta.count)
        let x = [0.4, -0.9, 1.3]
        let y = try model.forward(x, parameters: theta)
        #expect(y.count == 1)
        let (dx, dtheta) = try model.pullback([1])
        let fdX = try centralDifferences(x) { try reference.forward($0, parameters: theta)[0] }
        let fdTheta = try centralDifferences(theta) { try reference.forward(x, parameters: $0)[0] }
        #expect(relativeDistance(dx, fdX) < 1e-6, "dx \(relativeDistance(dx, fdX))")
        #expect(relativeDistance(dtheta, fdTheta) < 1e-6, "dθ \(relativeDistance(dtheta, fdTheta))")
        // Another sensealg for the solve layer gives the same gradient.
        let other = try sequence(Tsit5(), InterpolatingAdjoint(), 1e-12)
        _ = try other.forward(x, parameters: theta)
        let (dx2, dtheta2) = try other.pullback([1])
        #expect(relativeDistance(dx2, dx) < 1e-7 && relativeDistance(dtheta2, dtheta) < 1e-7)
    }

    /// `x -> hypernetwork -> p -> solve(prob, p: p) -> L = Σ_k (u₁(t_k) − 1)²` (Lotka-Volterra).
    @Test func parameterFormMatchesCentralDifferences() throws {
        let times = (1...10).map { 0.1 * Double($0) }
        let hyper = try Chain<Double>(.dense(2, 4, .softplus))
        let theta = hyper.initialParameters(seed: 5)
        func sequence<A: ODEAlgorithm>(_ alg: A, _ tol: Double) throws -> LayerSequence {
            let p0 = [1.5, 1, 3, 1]
            let solve = try SolveLayer(
                model: LV(), u0: [1, 1], tspan: (0, 1), p: p0, algorithm: alg,
                options: SolveOptions(reltol: tol, abstol: .scalar(tol), saveat: .times(times)), sensealg: InterpolatingAdjoint())
            return try LayerSequence([NetworkLayer(hyper), try ODELayer(solve, input: .parameters, u0: [1, 1])])
        }
        func loss(_ y: [Double]) -> Double { stride(from: 0, to: y.count, by: 2).reduce(0) { $0 + (y[$1] - 1) * (y[$1] - 1) } }
        let model = try sequence(Tsit5(), 1e-11)
        let reference = try sequence(Vern9(), 1e-13)
        let x = [0.5, -0.3]
        let y = try model.forward(x, parameters: theta)
        var dy = [Double](repeating: 0, count: y.count)
        for k in stride(from: 0, to: y.count, by: 2) { dy[k] = 2 * (y[k] - 1) }
        let (dx, dtheta) = try model.pullback(dy)
        let fdX = try centralDifferences(x) { loss(try reference.forward($0, parameters: theta)) }
        let fdTheta = try centralDifferences(theta) { loss(try reference.forward(x, parameters: $0)) }
        #expect(relativeDistance(dx, fdX) < 1e-6, "dx \(relativeDistance(dx, fdX))")
        #expect(relativeDistance(dtheta, fdTheta) < 1e-6, "dθ \(relativeDistance(dtheta, fdTheta))")
    }

    @Test func badCompositionsAreRefused() throws {
        let a = NetworkLayer(try Chain<Double>(.dense(3, 2)))
        let b = NetworkLayer(try Chain<Double>(.dense(4, 1)))
        #expect(throws: NeuralDEError.wrongLength(what: "input of layer 1", expected: 2, got: 4)) { try LayerSequence([a, b]) }
        let s = try LayerSequence([a])
        #expect(throws: NeuralDEError.wrongLength(what: "x", expected: 3, got: 2)) { try s.forward([1, 2], parameters: [Double](repeating: 0, count: 8)) }
        #expect(throws: NeuralDEError.nonFinite(what: "x", index: 1)) { try s.forward([1, .nan, 0], parameters: [Double](repeating: 0, count: 8)) }
    }
}
