import DenseLinearAlgebra
import NeuralNetworks
import Testing

/// Every layer kind's pullback against central differences of `dyᵀ f(x, p)`.
@Suite("Layer pullbacks against central differences")
struct PullbackTests {
    static let activations: [Activation] = [
        .identity, .tanh, .relu, .sigmoid, .softplus, .elu, .elu(alpha: 0.5), .swish, .gelu, .geluTanh,
    ]

    /// Central differences with h = 1e-6 have truncation error ~h² f''' ≈ 1e-12 and rounding
    /// error ~ε/h ≈ 1e-10 here, so agreement to 1e-8 (relative to the largest entry) is a
    /// pass with a wide margin and a failure for any wrong term.
    static func check(_ chain: Chain<Double>, seed: UInt64, tolerance: Double = 1e-8) throws {
        // Inputs away from relu's kink at 0 for these seeds (|x| >= 0.05 is checked below).
        let x: [Double] = arbitrary(chain.inputCount, seed: seed, scale: 1.5)
        let p = chain.initialParameters(seed: seed &+ 1).enumerated().map {
            $0.element + 0.1 * Double($0.offset % 7 - 3) / 3
        }
        let dy: [Double] = arbitrary(chain.outputCount, seed: seed &+ 2)
        let (_, dx, dp) = try pullback(chain, x: x, parameters: p, dy: dy)
        let reference = try centralDifferences(chain, x: x, parameters: p, dy: dy)
        #expect(relativeError(dx, reference.dx) < tolerance, "dx \(dx) vs \(reference.dx)")
        #expect(relativeError(dp, reference.dp) < tolerance, "dp")
    }

    @Test(arguments: activations)
    func denseLayer(_ activation: Activation) throws {
        try Self.check(try Chain<Double>(.dense(3, 4, activation), .dense(4, 2, activation)), seed: 11)
    }

    @Test(arguments: activations)
    func elementwiseLayer(_ activation: Activation) throws {
        try Self.check(try Chain<Double>(.dense(3, 4), .elementwise(activation), .dense(4, 2)), seed: 12)
    }

    @Test func denseWithoutBias() throws {
        try Self.check(try Chain<Double>(.dense(3, 4, .tanh, bias: false), .dense(4, 2, bias: false)), seed: 13)
    }

    @Test func powerAndCustomFunction() throws {
        let chain = try Chain<Double>(
            .power(3), .dense(2, 5, .tanh), .function("sin", { _sin($0) }, derivative: { _cos($0) }), .dense(5, 2))
        try Self.check(chain, seed: 14)
    }

    @Test func skipConnection() throws {
        let chain = try Chain<Double>(
            .dense(3, 4, .tanh), .skipConnection(.dense(4, 4, .softplus), .dense(4, 4)), .dense(4, 2))
        try Self.check(chain, seed: 15)
    }

    @Test func parallelAddAndConcatenate() throws {
        let added = try Chain<Double>(
            .dense(3, 4, .tanh),
            .parallel(.add, [.dense(4, 3, .sigmoid)], [.dense(4, 3)], [.elementwise(.swish), .dense(4, 3)]),
            .dense(3, 2))
        try Self.check(added, seed: 16)
        let stacked = try Chain<Double>(
            .dense(3, 4, .tanh), .parallel(.concatenate, [.dense(4, 3, .sigmoid)], [.dense(4, 2)]), .dense(5, 2))
        #expect(stacked.parameterViews.map(\.name).contains("layer_2.branch_2.layer_1.weight"))
        try Self.check(stacked, seed: 17)
    }

    /// Float runs the same kernels through sgemv/sgemm; compared with the Double pullback at the
    /// same (rounded) inputs, they agree to Float precision.
    @Test func floatMatchesDouble() throws {
        let layers: [Layer<Float>] = [.power(3), .dense(2, 50, .tanh), .dense(50, 2)]
        let chainF = try Chain<Float>(layers: layers)
        let chainD = try Chain<Double>(.power(3), .dense(2, 50, .tanh), .dense(50, 2))
        let pF = chainF.initialParameters(seed: 3)
        let pD = pF.map(Double.init)
        let x: [Float] = [0.7, -0.4]
        let dy: [Float] = [1, -2]
        let f = try pullback(chainF, x: x, parameters: pF, dy: dy)
        let d = try pullback(chainD, x: x.map(Double.init), parameters: pD, dy: dy.map(Double.init))
        #expect(relativeError(f.y.map(Double.init), d.y) < 1e-5)
        #expect(relativeError(f.dx.map(Double.init), d.dx) < 1e-5)
        #expect(relativeError(f.dp.map(Double.init), d.dp) < 1e-5)
    }

    /// Activation values at points where they are known exactly or in closed form.
    @Test func activationValues() {
        #expect(Activation.gelu.value(0.0) == 0)
        #expect(Activation.gelu.derivative(0.0) == 0.5)  // Φ(0) + 0·φ(0)
        // GELU(1) = Φ(1) = 0.841344746068542948... (Φ(1) from the normal table, Abramowitz & Stegun 26.2).
        #expect(abs(Activation.gelu.value(1.0) - 0.841_344_746_068_542_9) < 1e-15)
        #expect(abs(Activation.softplus.value(0.0) - 0.693_147_180_559_945_3) < 1e-16)
        #expect(Activation.softplus.value(1000.0) == 1000)  // no overflow of e^x
        #expect(Activation.sigmoid.value(-1000.0) == 0)
        #expect(Activation.relu.derivative(0.0) == 0)
        #expect(abs(Activation.elu.value(-1.0) - (0.367_879_441_171_442_3 - 1)) < 1e-16)
    }
}

#if canImport(Glibc)
    import Glibc
#endif
func _sin(_ x: Double) -> Double { sin(x) }
func _cos(_ x: Double) -> Double { cos(x) }
func _tanh(_ x: Double) -> Double { tanh(x) }
