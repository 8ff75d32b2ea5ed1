import DenseLinearAlgebra
import Foundation
import NeuralNetworks
import Testing

@Suite("Chain: construction, batches, parameters")
struct ChainTests {
    @Test func layoutAndNames() throws {
        let chain = try Chain<Double>(.power(3), .dense(2, 50, .tanh), .dense(50, 2))
        #expect(chain.inputCount == 2)
        #expect(chain.outputCount == 2)
        #expect(chain.parameterCount == 2 * 50 + 50 + 50 * 2 + 2)
        #expect(
            chain.parameterViews.map(\.name) == ["layer_2.weight", "layer_2.bias", "layer_3.weight", "layer_3.bias"])
        #expect(chain.parameterViews.map(\.range) == [0..<100, 100..<150, 150..<250, 250..<252])
        #expect(try chain.view(named: "layer_3.weight").rows == 2)
    }

    @Test func constructionErrors() {
        #expect(throws: NetworkError.sizesDoNotChain(layer: "layer_2", expected: 4, got: 3)) {
            try Chain<Double>(.dense(2, 3), .dense(4, 1))
        }
        #expect(throws: NetworkError.invalidSize(what: "layer_1 output count", value: 0)) {
            try Chain<Double>(.dense(2, 0))
        }
        #expect(throws: NetworkError.invalidSize(what: "layer input count", value: -1)) {
            try Chain<Double>(.dense(-1, 2))
        }
        #expect(throws: NetworkError.unknownInputSize) { try Chain<Double>(.power(3)) }
        #expect(throws: NetworkError.invalidExponent(0)) { try Chain<Double>(.power(0), .dense(2, 2)) }
        #expect(throws: NetworkError.skipChangesSize(layer: "layer_2", input: 3, output: 2)) {
            try Chain<Double>(.dense(2, 3), .skipConnection(.dense(3, 2)))
        }
        #expect(throws: NetworkError.branchSizesDiffer(layer: "layer_1", sizes: [2, 3])) {
            try Chain<Double>(.parallel(.add, [.dense(2, 2)], [.dense(2, 3)]))
        }
        #expect(throws: NetworkError.emptyLayer(layer: "chain")) { try Chain<Double>(layers: []) }
        #expect(throws: NetworkError.sizesDoNotChain(layer: "the first sized layer", expected: 2, got: 3)) {
            try Chain<Double>(.dense(2, 2), inputCount: 3)
        }
        // Only elementwise layers: the size must be given.
        #expect((try? Chain<Double>(.power(2), inputCount: 3))?.outputCount == 3)
    }

    @Test func evaluationErrors() throws {
        let chain = try Chain<Double>(.dense(2, 3, .tanh), .dense(3, 1))
        let other = try Chain<Double>(.dense(2, 4))
        let p = chain.initialParameters(seed: 1)
        var ws = chain.makeWorkspace()
        var y = [0.0]
        #expect(throws: NetworkError.dimensionMismatch(what: "x.count", expected: 2, got: 3)) {
            try chain.forward([1, 2, 3], parameters: p, workspace: &ws, into: &y)
        }
        #expect(throws: NetworkError.dimensionMismatch(what: "parameters.count", expected: p.count, got: 2)) {
            try chain.forward([1, 2], parameters: [1, 2], workspace: &ws, into: &y)
        }
        var wrong = [0.0, 0.0]
        #expect(throws: NetworkError.dimensionMismatch(what: "y.count", expected: 1, got: 2)) {
            try chain.forward([1, 2], parameters: p, workspace: &ws, into: &wrong)
        }
        var otherWorkspace = other.makeWorkspace()
        #expect(throws: NetworkError.workspaceMismatch) {
            try chain.forward([1, 2], parameters: p, workspace: &otherWorkspace, into: &y)
        }
        var dx = [0.0, 0.0]
        var dp = [Double](repeating: 0, count: p.count)
        #expect(throws: NetworkError.noForwardPass) {
            try chain.pullback([1], parameters: p, workspace: &ws, inputGradient: &dx, parameterGradient: &dp)
        }
        let batch = try Matrix<Double>(rows: 2, columns: 3, repeating: 0.5)
        var out = try Matrix<Double>(rows: 1, columns: 3, repeating: 0)
        #expect(throws: NetworkError.batchTooLarge(capacity: 1, got: 3)) {
            try chain.forward(batch: batch, parameters: p, workspace: &ws, into: &out)
        }
        #expect(throws: NetworkError.invalidSize(what: "batchCapacity", value: 0)) {
            try chain.makeWorkspace(batchCapacity: 0)
        }
        #expect(throws: NetworkError.unknownParameter("layer_9.weight")) { try chain.view(named: "layer_9.weight") }
    }

    /// The batch forward (gemm) equals the per-column forward (gemv), and the batch pullback's
    /// input gradients equal the per-column ones while its parameter gradient is their sum.
    @Test func batchEqualsColumns() throws {
        let chain = try Chain<Double>(
            .power(3), .dense(2, 8, .tanh), .skipConnection(.dense(8, 8, .gelu)),
            .parallel(.concatenate, [.dense(8, 3)], [.dense(8, 2, .sigmoid)]), .dense(5, 2))
        let p = chain.initialParameters(seed: 9)
        let b = 5
        let x = try Matrix<Double>(rows: 2, columns: b, columnMajor: arbitrary(2 * b, seed: 4))
        let dy = try Matrix<Double>(rows: 2, columns: b, columnMajor: arbitrary(2 * b, seed: 5))
        var ws = try chain.makeWorkspace(batchCapacity: 8)
        var y = try Matrix<Double>(rows: 2, columns: b, repeating: 0)
        try chain.forward(batch: x, parameters: p, workspace: &ws, into: &y)
        var dx = try Matrix<Double>(rows: 2, columns: b, repeating: 0)
        var dp = [Double](repeating: 0, count: p.count)
        try chain.pullback(batch: dy, parameters: p, workspace: &ws, inputGradient: &dx, parameterGradient: &dp)
        var dpSum = [Double](repeating: 0, count: p.count)
        for j in 0..<b {
            let column = try pullback(chain, x: x.column(j), parameters: p, dy: dy.column(j))
            #expect(relativeError(y.column(j), column.y) < 1e-15)
            #expect(relativeError(dx.column(j), column.dx) < 1e-14)
            for k in dpSum.indices { dpSum[k] += column.dp[k] }
        }
        #expect(relativeError(dp, dpSum) < 1e-14)
        // A smaller batch in the same workspace.
        let x2 = try Matrix<Double>(rows: 2, columns: 2, columnMajor: Array(x.elements[0..<4]))
        var y2 = try Matrix<Double>(rows: 2, columns: 2, repeating: 0)
        try chain.forward(batch: x2, parameters: p, workspace: &ws, into: &y2)
        #expect(relativeError(y2.elements, Array(y.elements[0..<4])) < 1e-15)
    }

    /// `accumulate: true` adds to the gradients instead of overwriting them.
    @Test func accumulate() throws {
        let chain = try Chain<Double>(.dense(2, 3, .tanh), .dense(3, 2))
        let p = chain.initialParameters(seed: 2)
        let (_, dx, dp) = try pullback(chain, x: [0.3, 0.2], parameters: p, dy: [1, 1])
        var ws = chain.makeWorkspace()
        var y = [0.0, 0.0]
        try chain.forward([0.3, 0.2], parameters: p, workspace: &ws, into: &y)
        var dx2 = dx
        var dp2 = dp
        try chain.pullback(
            [1, 1], parameters: p, workspace: &ws, inputGradient: &dx2, parameterGradient: &dp2, accumulate: true)
        #expect(dx2 == dx.map { 2 * $0 })
        #expect(dp2 == dp.map { 2 * $0 })
    }

    /// A chain with no parameters (elementwise layers only) evaluates and differentiates with an
    /// empty parameter vector.
    @Test func noParameters() throws {
        let chain = try Chain<Double>(.power(2), .elementwise(.tanh), inputCount: 3)
        #expect(chain.parameterCount == 0)
        let (y, dx, dp) = try pullback(chain, x: [0.5, -1, 2], parameters: [], dy: [1, 1, 1])
        #expect(dp.isEmpty)
        let expectedY = [0.25, 1.0, 4.0].map { _tanh($0) }
        // The chain's tanh is NeuralNetworks' own (within 2 ulp of the correctly rounded value,
        // TanhTests), the reference glibc's: they may differ by a few ulp (1 measured here).
        #expect(relativeError(y, expectedY) < 5e-16)
        // d/dx tanh(x²) = 2x (1 - tanh²(x²)).
        let expectedDx = [0.5, -1.0, 2.0].map { 2 * $0 * (1 - _tanh($0 * $0) * _tanh($0 * $0)) }
        #expect(relativeError(dx, expectedDx) < 1e-15)
    }

    @Test func assignRowsAndValues() throws {
        let chain = try Chain<Double>(.dense(2, 3), .dense(3, 1))
        var p = chain.initialParameters(seed: 0)
        try chain.assign(rows: [[1, 2], [3, 4], [5, 6]], to: "layer_1.weight", in: &p)
        try chain.assign([7, 8, 9], to: "layer_1.bias", in: &p)
        // Column-major storage of [[1,2],[3,4],[5,6]].
        #expect(Array(p[0..<6]) == [1, 3, 5, 2, 4, 6])
        #expect(try chain.values(of: "layer_1.weight", in: p)[2, 1] == 6)
        #expect(throws: NetworkError.raggedRows(what: "layer_1.weight", row: 1, expected: 2, got: 1)) {
            try chain.assign(rows: [[1, 2], [3], [5, 6]], to: "layer_1.weight", in: &p)
        }
        #expect(throws: NetworkError.dimensionMismatch(what: "layer_1.bias count", expected: 3, got: 2)) {
            try chain.assign([1, 2], to: "layer_1.bias", in: &p)
        }
        // y = W x + b with the assigned weights: [1·1+2·1+7, 3+4+8, 5+6+9].
        let hidden = try Chain<Double>(.dense(2, 3))
        var q = hidden.initialParameters(seed: 0)
        try hidden.assign(rows: [[1, 2], [3, 4], [5, 6]], to: "layer_1.weight", in: &q)
        try hidden.assign([7, 8, 9], to: "layer_1.bias", in: &q)
        #expect(try hidden([1, 1], parameters: q) == [10, 15, 20])
    }

    @Test func jsonRoundTrip() throws {
        let chain = try Chain<Double>(.dense(2, 5, .tanh), .dense(5, 2))
        let p = chain.initialParameters(seed: 77).map { $0 / 3 }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "nn-params-\(UInt64.random(in: 0...UInt64.max)).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try chain.saveParameters(p, to: url)
        #expect(try chain.loadParameters(from: url) == p)  // bit for bit
        let other = try Chain<Double>(.dense(2, 4, .tanh), .dense(4, 2))
        #expect(throws: NetworkError.parameterFileMismatch("its parameter views differ from this network's")) {
            try other.loadParameters(from: url)
        }
        var bad = p
        bad[3] = .nan
        #expect(throws: NetworkError.nonFinite(what: "parameters", index: 3)) { try chain.encodeParameters(bad) }
        let floatChain = try Chain<Float>(.dense(2, 5, .tanh), .dense(5, 2))
        let pf = floatChain.initialParameters(seed: 77)
        #expect(try floatChain.decodeParameters(floatChain.encodeParameters(pf)) == pf)
    }
}
