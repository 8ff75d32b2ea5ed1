import Foundation
import Testing
import AutoDiff
import DiffEqCore
import ExplicitRK
import ProblemLibrary
import Sensitivity
import StiffSolvers
import SensitivityCVODES

// Adversarial probes of the derivative layer (AutoDiff and Sensitivity): bad inputs must give a
// typed error or a correct result, never a trap, a hang, or a NaN gradient reported as success.
// The core solve API has its own sweep (Tests/DiffEqTests/RobustnessSweepTests.swift).

/// `u' = -p0 u`, two independent components.
private struct RDecay: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = -p[0] * u[0]
        du[1] = -p[0] * u[1]
    }
}

/// `u' = -p0 u + sqrt(p1 - 1)`: NaN for `p1 < 1`.
private struct RNaNModel: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = -p[0] * u[0] + S.sqrt(p[1] - S(1.0))
        du[1] = -p[0] * u[1]
    }
}

/// A loss that is NaN at every observation.
private struct NaNLoss: PointLoss {
    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S { S.sqrt(u[0] - S(100.0)) }
}

/// A loss that is finite with an infinite gradient at `u[0] = 1` (`sqrt` at 0): at `t0` for
/// ``RDecay`` from `u0 = [1, 2]`.
private struct InfiniteGradientLoss: PointLoss {
    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S { S.sqrt(S.abs(u[0] - S(1.0))) }
}

let robustMethodNames = [
    "ForwardDiff", "ForwardSensitivity", "Interpolating", "InterpolatingCheckpointed", "Quadrature", "Backsolve",
    "BacksolveCheckpointed", "Auto", "CVODESForward", "CVODESAdjoint",
]

func robustGradient<M: ODEModel, L: PointLoss>(
    _ name: String, _ loss: L, _ prob: ODEProblem<GenericRHS<M, Double>>, _ o: SolveOptions,
    wrt: GradientInputs = .parametersAndInitialState
) throws(SensitivityError) -> SensitivityResult {
    switch name {
    case "ForwardDiff": return try gradient(of: loss, prob, algorithm: Tsit5(), options: o, sensealg: ForwardDiffSensitivity(), wrt: wrt)
    case "ForwardSensitivity": return try gradient(of: loss, prob, algorithm: Tsit5(), options: o, sensealg: ForwardSensitivity(), wrt: wrt)
    case "Interpolating": return try gradient(of: loss, prob, algorithm: Tsit5(), options: o, sensealg: InterpolatingAdjoint(), wrt: wrt)
    case "InterpolatingCheckpointed":
        return try gradient(of: loss, prob, algorithm: Tsit5(), options: o, sensealg: InterpolatingAdjoint(checkpointing: true), wrt: wrt)
    case "Quadrature": return try gradient(of: loss, prob, algorithm: Tsit5(), options: o, sensealg: QuadratureAdjoint(), wrt: wrt)
    case "Backsolve": return try gradient(of: loss, prob, algorithm: Tsit5(), options: o, sensealg: BacksolveAdjoint(), wrt: wrt)
    case "BacksolveCheckpointed":
        return try gradient(of: loss, prob, algorithm: Tsit5(), options: o, sensealg: BacksolveAdjoint(checkpointing: true), wrt: wrt)
    case "Auto": return try gradient(of: loss, prob, algorithm: Tsit5(), options: o, sensealg: AutoSensitivity(), wrt: wrt)
    case "CVODESForward": return try gradient(of: loss, prob, algorithm: Tsit5(), options: o, sensealg: CVODESForward(), wrt: wrt)
    default: return try gradient(of: loss, prob, algorithm: Tsit5(), options: o, sensealg: CVODESAdjoint(), wrt: wrt)
    }
}

@Suite struct SensitivityRobustnessTests {
    fileprivate static var prob: ODEProblem<GenericRHS<RDecay, Double>> { ODEProblem(model: RDecay(), u0: [1.0, 2.0], tspan: (0, 1), p: [0.7]) }

    /// `saveat: .times([])`: no observation time at all. Was: an index-out-of-range trap in the
    /// adjoints, a loss over t0 and the end in the forward methods; now `invalidInput`.
    @Test(arguments: robustMethodNames) func emptySaveatTimes(_ m: String) {
        let o = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times([]))
        do {
            let r = try robustGradient(m, SumOfSquaresLoss(), Self.prob, o)
            Issue.record("\(m): no error for an empty saveat, loss \(r.loss), dp \(r.dp)")
        } catch {
            guard case .invalidInput(.invalidSaveAt) = error else { Issue.record("\(m): \(error)"); return }
        }
    }

    /// A huge number of steps between CVODES checkpoints. Was: `Int(Int32.max)` or `Int.max`
    /// had CVodeAdjInit allocate that many interpolation points and the process was killed out
    /// of memory; now capped at the step limit (same result) or refused when still too large.
    @Test func cvodesAdjointHugeCheckpointInterval() throws {
        let o = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times([0.5, 1]))
        let reference = try gradient(
            of: SumOfSquaresLoss(), Self.prob, algorithm: Tsit5(), options: o, sensealg: ForwardDiffSensitivity())
        for steps in [1, 1 << 20, Int(Int32.max), Int.max] {
            let r = try gradient(
                of: SumOfSquaresLoss(), Self.prob, algorithm: Tsit5(), options: o,
                sensealg: CVODESAdjoint(stepsBetweenCheckpoints: steps))
            #expect(relativeError(r.dp + r.du0, reference.dp + reference.du0) < 1e-4, "\(steps)")
        }
        var huge = o
        huge.maxiters = Int.max
        #expect(throws: SensitivityError.self) {
            try gradient(
                of: SumOfSquaresLoss(), Self.prob, algorithm: Tsit5(), options: huge,
                sensealg: CVODESAdjoint(stepsBetweenCheckpoints: Int.max))
        }
    }

    /// f is NaN past t = 0.3. Was: CVODESAdjoint ran to the step limit just short of 0.3 and
    /// reported a plain `.maxIters`; now `.unstable` naming the NaN, as CVODESForward does.
    @Test func cvodesAdjointNaNPastT() {
        let prob = ODEProblem(model: RNaNLater(), u0: [1.0, 2.0], tspan: (0, 1), p: [0.7])
        let o = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times([0.5, 1]), maxiters: 2000)
        for s in [CVODESAdjoint(), CVODESAdjoint(method: .adams)] {
            do {
                let r = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: o, sensealg: s)
                Issue.record("no error: \(r.dp)")
            } catch {
                guard case .solveFailed(_, let code, let message) = error else { Issue.record("\(error)"); continue }
                #expect(code == .unstable, "\(error)")
                #expect(message?.contains("NaN") == true, "\(error)")
            }
        }
    }

    /// A loss that is NaN at the observations. Was: the forward methods (ForwardDiff,
    /// ForwardSensitivity, CVODESForward, Auto) returned loss and gradient NaN as a success;
    /// now every method throws (the adjoints' backward solves fail on the NaN jump).
    @Test(arguments: robustMethodNames) func nanLoss(_ m: String) {
        let o = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times([0.5, 1]))
        do {
            let r = try robustGradient(m, NaNLoss(), Self.prob, o)
            Issue.record("\(m): NaN loss returned as success: loss \(r.loss), dp \(r.dp), du0 \(r.du0)")
        } catch {}
    }

    /// A loss with an infinite gradient at an observed state (here at t0): an error, never a
    /// non-finite gradient reported as a success.
    @Test(arguments: robustMethodNames) func infiniteLossGradient(_ m: String) {
        for times in [[0.0, 1.0], [0.0]] {
            let o = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times(times))
            do {
                let r = try robustGradient(m, InfiniteGradientLoss(), Self.prob, o)
                Issue.record("\(m) \(times): result as success: loss \(r.loss), dp \(r.dp), du0 \(r.du0)")
            } catch {}
        }
    }
}

/// `u0 = [sqrt(p1), 1]`: `∂u0/∂p1` is infinite at `p1 = 0`.
private struct SqrtStart: ParameterDependence {
    func initialState<S: DiffEqScalar>(_ p: [S]) -> [S]? { [S.sqrt(p[1]), S(1.0)] }
}

private struct WrongSizeStart: ParameterDependence {
    func initialState<S: DiffEqScalar>(_ p: [S]) -> [S]? { [p[0]] }
}

private struct EndOnlyOnDouble: ParameterDependence {
    func endTime<S: DiffEqScalar>(_ p: [S]) -> S? { S.self == Double.self ? p[1] : nil }
}

private struct StartOnlyOnDouble: ParameterDependence {
    func initialState<S: DiffEqScalar>(_ p: [S]) -> [S]? { S.self == Double.self ? [p[1], p[1]] : nil }
}

@Suite struct ParameterDependenceRobustnessTests {
    let o = SolveOptions(reltol: 1e-8, abstol: 1e-10)

    /// The gradient of the sum of squares of `RDecay` from `u0 = [1, 1]` on `[0, 1]` at `p`, with
    /// `dependence` (Tsit5).
    func rdecayGradient<D: ParameterDependence, M: SensitivityAlgorithm>(
        p: [Double], _ dependence: D, _ sensealg: M
    ) throws(SensitivityError) -> SensitivityResult {
        try gradient(
            of: SumOfSquaresLoss(), model: RDecay(), u0: [1, 1], tspan: (0, 1), p: p, dependence: dependence,
            algorithm: Tsit5(), options: o, sensealg: sensealg)
    }

    /// `initialState(p)` of one value for a two-state `u0`. Was: the model indexed past it (a
    /// trap); now `invalidInput(.dimensionMismatch)`.
    @Test func initialStateWrongSize() {
        #expect(throws: SensitivityError.invalidInput(.dimensionMismatch(what: "initialState(p)", expected: 2, got: 1))) {
            try rdecayGradient(p: [0.7], WrongSizeStart(), ForwardDiffSensitivity())
        }
    }

    /// `endTime`/`initialState` that answer on Double but `nil` on dual numbers. Was: the
    /// dependence's derivative silently dropped (dL/dp1 = 0); now refused.
    @Test func dependenceOnlyOnDouble() {
        #expect(throws: SensitivityError.self) {
            try rdecayGradient(p: [0.7, 1.0], EndOnlyOnDouble(), ForwardDiffSensitivity())
        }
        #expect(throws: SensitivityError.self) {
            try rdecayGradient(p: [0.7, 1.0], StartOnlyOnDouble(), QuadratureAdjoint())
        }
    }

    /// Was: `dp = [-0.49, nan]` returned as a success; now `nonFiniteResult`.
    @Test func infiniteInitialStateDerivative() {
        #expect(throws: SensitivityError.self) {
            try rdecayGradient(p: [0.7, 0.0], SqrtStart(), ForwardDiffSensitivity())
        }
    }
}

@Suite struct PointLossRobustnessTests {
    /// `valueAndGradient` with a buffer of the wrong length. Was: index out of range (shorter),
    /// stale trailing entries (longer); now the buffer is resized.
    @Test func valueAndGradientWrongBuffer() {
        var g: [Double] = []
        let v = SumOfSquaresLoss().valueAndGradient(at: [1, 2, 3], 0, into: &g)
        #expect(v == 14)
        #expect(g == [2, 4, 6])
        var big = [Double](repeating: 9, count: 5)
        _ = SumOfSquaresLoss().valueAndGradient(at: [1, 2], 0, into: &big)
        #expect(big == [2, 4])
    }
}

@Suite struct ForwardModeHelperRobustnessTests {
    /// `Dual<0, Double>` chunks. Was: an endless loop (the chunk never advanced); now a
    /// precondition failure with a message.
    @Test func zeroWidthChunk() async {
        await #expect(processExitsWith: .failure) {
            _ = gradient(of: { (x: [Dual<0, Double>]) -> Dual<0, Double> in x[0] }, at: [1, 2])
        }
        await #expect(processExitsWith: .failure) {
            _ = jacobian(of: { (x: [Dual<0, Double>]) -> [Dual<0, Double>] in x }, at: [1, 2])
        }
        // Nothing to differentiate: fine whatever the chunk.
        #expect(gradient(of: { (x: [Dual<0, Double>]) -> Dual<0, Double> in .zero }, at: []) == [])
    }

    /// An f whose output length changes between chunks. Was: a bare index-out-of-range trap;
    /// now a precondition failure naming the lengths.
    @Test func jacobianOutputLengthChanges() async {
        await #expect(processExitsWith: .failure) {
            _ = jacobian(of: { (x: [Dual<1, Double>]) -> [Dual<1, Double>] in x[0].partials[0] == 1 ? x : [x[0]] }, at: [1, 2, 3])
        }
    }

    /// Empty inputs and outputs give empty matrices.
    @Test func emptyInputs() {
        #expect(jacobian(of: { (x: [Dual<2, Double>]) in x }, at: []).rows == 0)
        let e = jacobian(of: { (x: [Dual<2, Double>]) -> [Dual<2, Double>] in [] }, at: [1, 2, 3])
        #expect(e.rows == 0 && e.columns == 3)
    }
}

@Suite struct SensitivityMethodRobustnessTests {
    /// Events with a sensitivity method: refused as unsupported, never ignored.
    @Test(arguments: robustMethodNames) func callbacksRefused(_ m: String) {
        let base = ODEProblem(model: RDecay(), u0: [1.0, 2.0], tspan: (0, 1), p: [0.7])
        let cb = ContinuousCallback<Double>(condition: { u, t, p in u[0] - 0.8 }, affect: { _ in })
        let withCB = base.remake(callbacks: CallbackSet(cb))
        let o = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times([0.5, 1]))
        do {
            let r = try robustGradient(m, SumOfSquaresLoss(), withCB, o)
            Issue.record("\(m): callbacks accepted \(r.dp)")
        } catch {
            guard case .unsupported = error else { Issue.record("\(m): \(error)"); return }
        }
    }

    /// f is NaN past t = 0.3: every method reports a failed forward solve that names the NaN.
    @Test(arguments: robustMethodNames) func fNaNMidSolve(_ m: String) {
        let prob = ODEProblem(model: RNaNLater(), u0: [1.0, 2.0], tspan: (0, 1), p: [0.7])
        let o = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times([0.5, 1]))
        do {
            let r = try robustGradient(m, SumOfSquaresLoss(), prob, o)
            Issue.record("\(m): no error \(r.dp)")
        } catch {
            guard case .solveFailed(let phase, let code, let message) = error else { Issue.record("\(m): \(error)"); return }
            #expect(phase.contains("forward") && code == .unstable && message?.contains("NaN") == true, "\(m): \(error)")
        }
    }

    /// Every method agrees with forward mode through a stiff solver.
    @Test(arguments: robustMethodNames) func agreesWithStiffForwardMode(_ m: String) throws {
        let o = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .every(0.1))
        let prob = ODEProblem(model: RDecay(), u0: [1.0, 2.0], tspan: (0, 1), p: [0.7])
        let r1 = try robustGradient(m, SumOfSquaresLoss(), prob, o)
        let r2 = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Rodas5P(), options: o, sensealg: ForwardDiffSensitivity())
        #expect(relativeError(r1.dp + r1.du0, r2.dp + r2.du0) < 1e-4, "\(m)")
    }
}

/// NaN once t > 0.3.
private struct RNaNLater: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = -p[0] * u[0] + (t > S(0.3) ? S(Double.nan) : S.zero)
        du[1] = -p[0] * u[1]
    }
}

@Suite struct ReverseTapeRobustnessTests {
    /// `a * y + c` with `y` from another tape. Was: the product recorded `y`'s slot index on
    /// `a`'s tape, where it names `c`, so dz/dc came out as 1 + a instead of 1; now a
    /// precondition failure.
    @Test func mixedTapes() async {
        await #expect(processExitsWith: .failure) {
            let t1 = ReverseTape(), t2 = ReverseTape()
            let x = t1.variables([2, 3, 4])
            let y = t2.variables([5, 6, 7])[2]
            let z = x[0] * y + x[2]
            t1.pullback(output: z)
            print(t1.variableAdjoints())
            withExtendedLifetime(t2) {}
        }
        // One tape: fine.
        let t = ReverseTape()
        let x = t.variables([2, 3, 4])
        t.pullback(output: x[0] * x[1] + x[2])
        #expect(t.variableAdjoints() == [3, 2, 1])
    }

    @Test func replayAndPullbackMismatches() {
        let t = ReverseTape()
        let xs = t.variables([1, 2])
        _ = xs[0] * xs[1]
        #expect(throws: ReverseModeError.self) { try t.replay(inputs: [1]) }
        #expect(throws: ReverseModeError.self) { try t.pullback(outputs: [xs[0]], cotangent: []) }
        let tape = RHSTape(RDecay())
        #expect(throws: ReverseModeError.self) { try tape.vjp(u: [1, 1], p: [1], t: 0, v: [1]) }
        var du: [Double] = [], dp: [Double] = []
        #expect(throws: ReverseModeError.self) { try tape.vjp(u: [1, 1], p: [1], t: 0, v: [1, 1], du: &du, dp: &dp) }
    }
}
