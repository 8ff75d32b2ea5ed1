import Foundation
import NeuralNetworks
import Testing

@Suite("Training loop")
struct TrainingTests {
    /// f = Σ xᵢ², gradient 2x; SGD with η moves x to (1 - 2η) x per step.
    static func quadratic(_ p: [Double], _ g: inout [Double]) -> Double {
        for i in p.indices { g[i] = 2 * p[i] }
        return p.reduce(0) { $0 + $1 * $1 }
    }

    @Test func completesAndRecordsEveryPoint() throws {
        var p = [1.0, -2.0]
        var sgd = try SGD<Double>(learningRate: 0.25)
        let result = try train(&p, optimizer: &sgd, iterations: 4) { p, g in Self.quadratic(p, &g) }
        #expect(result.status == .completed)
        #expect(result.iterations == 4)
        #expect(result.lossHistory == [5, 1.25, 0.3125, 0.078125, 0.01953125])  // halved x each step
        #expect(p == [0.0625, -0.125])
        #expect(result.evaluations == 5)
        #expect(result.bestLoss == result.loss)
    }

    /// A NaN loss at iteration 4 stops the run with the parameters of iteration 3.
    @Test func nanLossKeepsLastFiniteParameters() throws {
        var p = [1.0, -2.0]
        var sgd = try SGD<Double>(learningRate: 0.25)
        var evaluations = 0
        let result = try train(&p, optimizer: &sgd, iterations: 10) { p, g in
            evaluations += 1
            let loss = Self.quadratic(p, &g)
            return evaluations == 5 ? .nan : loss
        }
        #expect(result.status == .nonFiniteLoss(iteration: 4))
        #expect(!result.status.isSuccess)
        #expect(result.iterations == 3)
        #expect(p == [0.125, -0.25])
        #expect(result.loss == 0.078125)
        #expect(result.lossHistory.count == 4)
        #expect(result.status.description.contains("kept the parameters of iteration 3"))
    }

    @Test func infiniteGradientKeepsLastFiniteParameters() throws {
        var p = [1.0, -2.0]
        var adam = try Adam<Double>(0.1)
        var evaluations = 0
        var snapshots: [[Double]] = []
        let result = try train(
            &p, optimizer: &adam, iterations: 10,
            callback: { state, _ in
                snapshots.append(state.parameters)
                return false
            }
        ) { p, g in
            evaluations += 1
            let loss = Self.quadratic(p, &g)
            if evaluations == 3 { g[1] = .infinity }
            return loss
        }
        #expect(result.status == .nonFiniteGradient(iteration: 2, index: 1))
        #expect(p == snapshots[1])
    }

    @Test func nanAtTheStartLeavesParametersUntouched() throws {
        var p = [1.0, -2.0]
        var sgd = try SGD<Double>(learningRate: 0.25)
        let result = try train(&p, optimizer: &sgd, iterations: 10) { _, _ in .nan }
        #expect(result.status == .nonFiniteLoss(iteration: 0))
        #expect(p == [1.0, -2.0])
    }

    @Test func callbackStops() throws {
        var p = [1.0, -2.0]
        var sgd = try SGD<Double>(learningRate: 0.1)
        var seen: [Int] = []
        var scratch = [0.0, 0.0]
        let result = try train(
            &p, optimizer: &sgd, iterations: 100,
            callback: { state, loss in
                seen.append(state.iteration)
                #expect(loss == Self.quadratic(state.parameters, &scratch))
                return state.iteration == 5
            }
        ) { p, g in Self.quadratic(p, &g) }
        #expect(result.status == .stoppedByCallback(iteration: 5))
        #expect(seen == [0, 1, 2, 3, 4, 5])
        #expect(result.lossHistory.count == 6)
    }

    @Test func earlyStoppingAndGradientTolerance() throws {
        var p = [1.0]
        var sgd = try SGD<Double>(learningRate: 0.1)
        // A loss that stops improving after iteration 2.
        var calls = 0
        let result = try train(&p, optimizer: &sgd, iterations: 100, earlyStopping: try EarlyStopping(patience: 3)) {
            _, g in
            calls += 1
            g[0] = 1
            return max(1.0, 4.0 - Double(calls))
        }
        #expect(result.status == .earlyStopped(iteration: 5))
        #expect(result.bestLoss == 1)
        var q = [1.0, -2.0]
        var gd = try SGD<Double>(learningRate: 0.25)
        let converged = try train(&q, optimizer: &gd, iterations: 100, gradientTolerance: 1e-3) { p, g in
            Self.quadratic(p, &g)
        }
        // |g|∞ = 4 · 2⁻ᵏ ≤ 1e-3 first at k = 12.
        #expect(converged.status == .converged(iteration: 12))
    }

    struct Interrupted: Error {}

    /// An error thrown by the closure propagates, with the parameters of the last visited point.
    @Test func closureErrorRestoresParameters() throws {
        var p = [1.0, -2.0]
        var sgd = try SGD<Double>(learningRate: 0.25)
        var calls = 0
        #expect(throws: Interrupted.self) {
            try train(&p, optimizer: &sgd, iterations: 10) { p, g in
                calls += 1
                if calls == 3 { throw Interrupted() }
                return Self.quadratic(p, &g)
            }
        }
        #expect(p == [0.5, -1.0])
    }

    @Test func badInputs() throws {
        var sgd = try SGD<Double>(learningRate: 0.1)
        var empty: [Double] = []
        #expect(throws: OptimizationError.emptyParameters) {
            try train(&empty, optimizer: &sgd, iterations: 1) { p, g in Self.quadratic(p, &g) }
        }
        var nan = [1.0, .nan]
        #expect(throws: OptimizationError.nonFiniteInput(what: "parameters", index: 1)) {
            try train(&nan, optimizer: &sgd, iterations: 1) { p, g in Self.quadratic(p, &g) }
        }
        var p = [1.0]
        #expect(
            throws: OptimizationError.invalidHyperparameter(name: "iterations", value: -1, requirement: "non-negative")
        ) {
            try train(&p, optimizer: &sgd, iterations: -1) { p, g in Self.quadratic(p, &g) }
        }
        #expect(throws: OptimizationError.nonFiniteInput(what: "data", index: 2)) {
            try requireFinite([0.0, 1.0, .infinity], "data")
        }
        #expect(throws: OptimizationError.invalidHyperparameter(name: "patience", value: 0, requirement: "at least 1"))
        {
            try EarlyStopping(patience: 0)
        }
    }

    /// The reporter writes plain lines to a pipe (not a terminal) and nothing is written without one.
    @Test func progressLinesOnAPipe() throws {
        let pipe = Pipe()
        let reporter = try ProgressReporter(to: pipe.fileHandleForWriting, every: 2)
        #expect(!reporter.isTerminal)
        var p = [1.0, -2.0]
        var sgd = try SGD<Double>(learningRate: 0.25)
        _ = try train(&p, optimizer: &sgd, iterations: 5, progress: reporter) { p, g in Self.quadratic(p, &g) }
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 5, "\(text)")  // iterations 0, 2, 4, 5 and the closing line
        #expect(lines.first?.hasPrefix("iteration 0/5  loss 5.000000e+00") == true)
        #expect(lines.last?.contains("completed all iterations") == true)
        #expect(!text.contains("\r"))
    }

    /// The terminal style redraws one line (carriage return and erase) and ends with a newline.
    @Test func progressOnATerminal() throws {
        let pipe = Pipe()
        let reporter = try ProgressReporter(to: pipe.fileHandleForWriting, style: .terminal)
        var p = [1.0]
        var sgd = try SGD<Double>(learningRate: 0.25)
        _ = try train(&p, optimizer: &sgd, iterations: 2, progress: reporter) { p, g in Self.quadratic(p, &g) }
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text.components(separatedBy: "\r\u{1B}[2K").count == 5)  // 3 reports + the closing line
        #expect(text.hasSuffix("\n") && text.filter { $0 == "\n" }.count == 1)
    }

    /// The same run twice gives the same losses bit for bit (no hidden state, no threads).
    @Test func deterministic() throws {
        let chain = try Chain<Double>(.power(3), .dense(2, 16, .tanh), .dense(16, 2))
        func run() throws -> [Double] {
            var p = chain.initialParameters(seed: 1)
            var adam = try Adam<Double>(0.05)
            var ws = chain.makeWorkspace()
            var y = [0.0, 0.0]
            var dx = [0.0, 0.0]
            let result = try train(&p, optimizer: &adam, iterations: 20) { p, g in
                try chain.forward([0.8, -0.5], parameters: p, workspace: &ws, into: &y)
                let target = [0.3, 0.1]
                let dy = [2 * (y[0] - target[0]), 2 * (y[1] - target[1])]
                try chain.pullback(dy, parameters: p, workspace: &ws, inputGradient: &dx, parameterGradient: &g)
                return (y[0] - target[0]) * (y[0] - target[0]) + (y[1] - target[1]) * (y[1] - target[1])
            }
            #expect(result.status == .completed)
            return result.lossHistory
        }
        let first = try run()
        #expect(first == (try run()))
        #expect(first.last! < first.first! / 10)  // and it trains
    }
}
