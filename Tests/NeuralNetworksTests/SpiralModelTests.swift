import Foundation
import NeuralNetworks
import Testing

/// The peers' spiral initial weights (Fixtures/spiral_init_seed0.json, copied from
/// ../shared/peers/; W1 50x2 and W2 2x50 as lists of rows) load into x.^3 -> Dense(2, 50, tanh)
/// -> Dense(50, 2) and give the model value computed independently with NumPy (run once):
///
///     d = json.load(open('spiral_init_seed0.json'))
///     W1, b1, W2, b2 = (np.array(d[k]) for k in ('W1', 'b1', 'W2', 'b2'))
///     f = lambda u: W2 @ np.tanh(W1 @ np.asarray(u)**3 + b1) + b2
///     f([2.0, 0.0])   # [0.24364694824440614, 0.45615884579902577]
///     f([0.5, -1.5])  # [-1.1473824264681427, 0.5180303442440508]
@Suite("Spiral model from the peers' weights")
struct SpiralModelTests {
    struct InitialWeights: Decodable {
        let W1: [[Double]]
        let b1: [Double]
        let W2: [[Double]]
        let b2: [Double]
    }

    static func load() throws -> (Chain<Double>, [Double]) {
        let weights = try JSONDecoder().decode(
            InitialWeights.self, from: Data(contentsOf: fixtureURL("spiral_init_seed0.json")))
        let chain = try Chain<Double>(.power(3), .dense(2, 50, .tanh), .dense(50, 2))
        var p = [Double](repeating: .nan, count: chain.parameterCount)
        try chain.assign(rows: weights.W1, to: "layer_2.weight", in: &p)
        try chain.assign(weights.b1, to: "layer_2.bias", in: &p)
        try chain.assign(rows: weights.W2, to: "layer_3.weight", in: &p)
        try chain.assign(weights.b2, to: "layer_3.bias", in: &p)
        return (chain, p)
    }

    @Test func valueAtInitialState() throws {
        let (chain, p) = try Self.load()
        #expect(p.allSatisfy { $0.isFinite })
        // NumPy's matvec and ours sum in different orders: agreement to a few ulps.
        #expect(relativeError(try chain([2, 0], parameters: p), [0.24364694824440614, 0.45615884579902577]) < 1e-14)
        #expect(
            relativeError(try chain([0.5, -1.5], parameters: p), [-1.1473824264681427, 0.5180303442440508]) < 1e-14)
    }
}
