// Draws case `(seed, index)`: every choice comes from the case's own SplitMix64 stream, in a
// fixed order, so a case is a pure function of its two numbers. Most draws are ordinary (so the
// solvers get deep into their step loops); a fraction is hostile, from tables of values known to
// break naive code: 0, negative, NaN, infinities, 1e-300, 1e300.
import DiffEq

enum Generator {
    static func makeCase(seed: UInt64, index: UInt64) -> FuzzCase {
        var r = SplitMix64(seed: seed, index: index)
        let modeRoll = r.weighted([(40, 0), (15, 1), (15, 2), (30, 3)])
        let gradientCase = modeRoll == 3
        var problem = drawProblem(&r, fixedSize: modeRoll == 2, gradient: gradientCase)
        var text: [String] = []
        var options = drawOptions(&r, span: problem.tspan, n: problem.u0.count, tame: gradientCase && r.chance(60), text: &text)
        let mode: Mode
        switch modeRoll {
        case 0:
            let a = drawAlgorithm(&r)
            if a.isFixedStep, options.dt == nil, r.chance(90) { setFixedDt(&r, &options, problem.tspan, &text) }
            mode = .solve(a)
        case 1:
            let a = r.pick(integratorAlgorithms)
            if a.isFixedStep, options.dt == nil { setFixedDt(&r, &options, problem.tspan, &text) }
            mode = .integrator(a, drawOps(&r, span: problem.tspan, n: problem.u0.count))
        case 2:
            let width = r.chance(50) ? 4 : 8
            if case .perComponent(let a) = options.abstol, a.count == problem.u0.count {
                options.abstol = .perComponent((0..<width).map { $0 < a.count ? a[$0] : 1e-6 })
            }
            problem.u0 = Array(problem.u0.prefix(width))
            var a = r.pick(staticAlgorithms)
            if r.chance(10) { a = .globalErrorControl(r.pick([StaticAlgorithm.tsit5, .rodas5P, .dp5]), maxSolves: r.pick([5, 3, 1, 0])) }
            if case .rk4 = a, options.dt == nil { setFixedDt(&r, &options, problem.tspan, &text) }
            // The fixed-size form has neither dense output nor isOutOfDomain: both are drawn
            // rarely here (they must be refused, not ignored).
            if !r.chance(5) { options.dense = nil }
            let ops = r.chance(30) ? drawOps(&r, span: problem.tspan, n: width).filter {
                if case .setP = $0 { return false }
                if case .interpolate = $0 { return false }
                if case .setT = $0 { return false }
                return true
            } : nil
            if r.chance(20) {
                // A model written for the sizes it declares, sometimes not the problem's.
                let state: Int? = r.weighted([(70, width), (15, nil), (15, r.pick([1, width - 1, width + 1, 2 * width]))])
                let parameters: Int? = r.weighted([(70, 2), (15, nil), (15, r.pick([0, 1, 3]))])
                mode = .fixedSizeModel(
                    a, width: width, state: state, parameters: parameters, fromArray: r.chance(30), gradient: r.chance(20))
            } else {
                mode = .fixedSize(a, width: width, ops: ops)
            }
        default:
            if options.saveat == nil, r.chance(80) {
                let (t0, t1) = problem.tspan
                let times = (0..<r.int(1...4)).map { _ in t0 + (t1 - t0) * r.unit() } + [t1]
                let sorted = times.sorted(by: t1 >= t0 ? (<) : (>))
                options.saveat = .times(sorted)
                text.append("saveat=\(sorted)")
            }
            let s = drawSensealg(&r)
            let a = r.pick([Algorithm.tsit5, .rodas5P(finiteDifferences: false), .cvodeBDF(maxOrder: 5, maxNumSteps: nil, fixedPoint: false, stabilityLimitDetection: false)])
            mode = .gradient(s, algorithm: a, loss: r.pick(LossKind.allCases), parametersOnly: r.chance(30))
        }
        var queries: [Double] = []
        if !gradientCase, r.chance(40) {
            let (t0, t1) = problem.tspan
            for _ in 0..<r.int(1...3) {
                queries.append(r.weighted([(6, t0 + (t1 - t0) * r.unit()), (1, t1), (1, t0), (1, .nan), (1, t1 + (t1 - t0)), (1, -1e300)]))
            }
        }
        return FuzzCase(seed: seed, index: index, problem: problem, options: options, optionsText: text, mode: mode, queries: queries)
    }

    // MARK: Problems

    static func drawProblem(_ r: inout SplitMix64, fixedSize: Bool, gradient: Bool) -> ProblemSpec {
        let kind = r.pick(ProblemKind.allCases)
        let n = r.weighted([(4, r.int(1...4)), (3, r.int(5...10)), (2, r.int(11...20))])
        var u0 = (0..<n).map { _ in r.uniform(0.1, 2) }
        if kind == .rober, n >= 3 { u0[0] = 1; u0[1] = 0; u0[2] = 0 }
        if r.chance(3) { u0[r.int(0...(n - 1))] = r.pick([.nan, .infinity, -.infinity]) }
        if r.chance(2) { u0 = [] }
        var p: [Double]
        switch kind {
        case .decay: p = [r.pick([1, 0.5, 10, -1, 0])]
        case .diffusion: p = [r.pick([1, 100, 1e4]), r.pick([0, 1])]
        case .lotka: p = [1.5, 1, 3, 1].map { $0 * r.uniform(0.5, 1.5) }
        case .vanDerPol: p = [r.pick([1, 10, 1e3, 1e6])]
        case .rober: p = [0.04, 3e7, 1e4]
        case .blowup: p = [r.pick([1, 0.1, 5])]
        case .stiffLinear: p = [r.pick([1, 1e2, 1e4])]
        case .oscillator: p = [r.pick([1, 10])]
        }
        if r.chance(3) { p = [] }
        if !p.isEmpty, r.chance(2) { p[0] = .nan }
        let tspan = drawSpan(&r)
        let fault: Fault = r.weighted([
            (70, .none),
            (12, .after(fraction: r.unit(), component: r.int(0...19), value: .nan)),
            (5, .after(fraction: r.unit(), component: r.int(0...19), value: r.pick([.infinity, -.infinity]))),
            (8, .atCall(r.int(1...400), component: r.int(0...19))),
            (fixedSize ? 0 : 2, .resize(fraction: r.unit(), length: r.pick([0, 1, n + 1]))),
        ])
        let form: Form = fixedSize ? .closure : (gradient ? (r.chance(90) ? .generic : .closure) : r.pick([.generic, .closure]))
        var mass: [Double]?
        var callbacks: [CallbackSpec] = []
        if !fixedSize, !gradient || r.chance(10) {
            if r.chance(15) { mass = drawMass(&r, n: u0.count) }
            if r.chance(20) {
                for _ in 0..<r.int(1...2) { callbacks.append(drawCallback(&r, span: tspan, n: u0.count)) }
            }
        }
        return ProblemSpec(kind: kind, form: form, u0: u0, p: p, tspan: tspan, fault: fault, massMatrix: mass, callbacks: callbacks)
    }

    static func drawSpan(_ r: inout SplitMix64) -> (Double, Double) {
        r.weighted([
            (80, (0, r.pick([0.1, 1, 1, 5, 10, 20]))),
            (4, (r.pick([1, 10]), 0)),  // backward in time
            (2, (1, 1)),
            (2, (0, .nan)), (1, (.nan, 1)),
            (2, (0, 1e300)), (1, (-1e308, 1e308)), (1, (1e300, 1e300 + 1e285)),
            (1, (0, .infinity)), (1, (0, -.infinity)),
            (2, (0, 1e-12)),
        ])
    }

    static func drawMass(_ r: inout SplitMix64, n: Int) -> [Double] {
        var m = [Double](repeating: 0, count: n * n)
        switch r.int(0...5) {
        case 0: for i in 0..<n { m[i * (n + 1)] = 1 }
        case 1:  // singular diagonal: some algebraic equations (a DAE)
            for i in 0..<n { m[i * (n + 1)] = r.chance(30) ? 0 : 1 }
        case 2: for i in 0..<(n * n) { m[i] = r.uniform(-1, 1) }
        case 3: break  // all zero
        case 4: m = [Double](repeating: 1, count: r.pick([0, 1, n * n + 1]))
        default:
            for i in 0..<n { m[i * (n + 1)] = 1 }
            if !m.isEmpty { m[r.int(0...(m.count - 1))] = r.pick([.nan, .infinity]) }
        }
        return m
    }

    static func drawCallback(_ r: inout SplitMix64, span: (Double, Double), n: Int) -> CallbackSpec {
        let tc = span.0 + (span.1 - span.0) * r.unit()
        let condition: CallbackCondition = r.weighted([
            (4, .time(tc)), (4, .state(component: r.int(0...max(0, n - 1)), level: r.uniform(0, 2))), (1, .nanAfter(tc)),
        ])
        let affect: CallbackAffect = r.weighted([
            (4, .scale(r.pick([0.5, -1, 2, 0]))), (2, .set(component: r.int(0...max(0, n - 1)), value: r.pick([0, 1, .nan, .infinity]))),
            (1, .resizeU(r.pick([0, n + 1]))), (1, .resizeP(r.pick([0, 7]))), (1, .scaleP(r.pick([2, .nan]))), (2, .terminate),
            (2, .nothing),
        ])
        return CallbackSpec(continuous: r.chance(60), condition: condition, affect: affect)
    }

    // MARK: Options

    static let reltols: [(Int, Double)] = [
        (30, 1e-3), (20, 1e-6), (10, 1e-8), (4, 1e-10), (2, 1e-14), (2, 0), (2, -1), (2, .nan), (2, 1e-300), (2, 1e3),
        (1, .infinity),
    ]
    static let abstols: [(Int, Double)] = [
        (30, 1e-6), (15, 1e-8), (10, 1e-10), (3, 0), (2, -1), (2, .nan), (2, 1e-300), (2, 1e3), (1, 5e-324),
    ]

    static func drawOptions(_ r: inout SplitMix64, span: (Double, Double), n: Int, tame: Bool, text: inout [String]) -> SolveOptions {
        var o = SolveOptions()
        let length = span.1 - span.0
        o.reltol = tame ? r.pick([1e-3, 1e-6, 1e-8]) : r.weighted(reltols)
        switch r.weighted([(85, 0), (10, 1), (5, 2)]) {
        case 0: o.abstol = .scalar(tame ? r.pick([1e-6, 1e-8, 1e-10]) : r.weighted(abstols))
        case 1: o.abstol = .perComponent((0..<n).map { _ in r.weighted(abstols) })
        default: o.abstol = .perComponent([Double](repeating: 1e-6, count: r.pick([0, 1, n + 1])))
        }
        if o.reltol != 1e-3 || o.abstol != .scalar(1e-6) { text.append("reltol=\(o.reltol) abstol=\(o.abstol)") }
        if tame { return o }
        if r.chance(30) {
            if r.chance(50) {
                let e = r.weighted([(6, length / Double(r.int(1...20))), (1, -0.1), (1, .nan), (1, 0), (1, 1e-300), (1, 5 * length)])
                o.saveat = .every(e)
                text.append("saveat=every(\(e))")
            } else {
                o.saveat = .times(drawTimes(&r, span: span))
                text.append("saveat=\(o.saveat!)")
            }
        }
        if r.chance(15) {
            o.tstops = drawTimes(&r, span: span)
            text.append("tstops=\(o.tstops)")
        }
        if r.chance(10) { o.saveEverystep = r.chance(50); text.append("saveEverystep=\(o.saveEverystep!)") }
        if r.chance(25) { o.dense = r.chance(50); text.append("dense=\(o.dense!)") }
        if r.chance(10) {
            o.dt = r.pick([0, .nan, -0.1, 1e300, 1e-300, length / 100, length / 3])
            text.append("dt=\(o.dt!)")
        }
        if r.chance(10) {
            o.dtmin = r.pick([0, .nan, 1e-300, length * 0.9, length * 10, 50, length / 1000])
            text.append("dtmin=\(o.dtmin!)")
        }
        if r.chance(10) {
            o.dtmax = r.pick([0, .nan, 1e-300, length / 10, 1e300, 100, -1])
            text.append("dtmax=\(o.dtmax!)")
        }
        if r.chance(4) { o.adaptive = false; text.append("adaptive=false") }
        if r.chance(15) {
            // No step limit at all only where the work is bounded anyway (a span of ordinary
            // length, adaptive steps): a fixed step across 1e308 with no limit is a request for
            // 1e309 steps, not a hang.
            let bounded = length.isFinite && Swift.abs(length) <= 20 && o.adaptive
            o.maxiters = r.pick([0, -5, 1, 2, 10, 100, 1000, 10_000, bounded ? Int.max : 50_000])
            text.append("maxiters=\(o.maxiters)")
        }
        if r.chance(4) {
            o.isOutOfDomain = { u, _, _ in u.contains { $0 < -1e3 } }
            text.append("isOutOfDomain(u < -1e3)")
        }
        return o
    }

    static func drawTimes(_ r: inout SplitMix64, span: (Double, Double)) -> [Double] {
        let (t0, t1) = span
        var times: [Double] = []
        for _ in 0..<r.int(0...6) {
            times.append(r.weighted([(8, t0 + (t1 - t0) * r.unit()), (1, t0), (1, t1), (1, .nan), (1, t1 + 1), (1, t0 - 1), (1, .infinity)]))
        }
        if r.chance(30), let first = times.first { times.append(first) }  // duplicate
        if r.chance(50) { times.sort(by: <) }
        return times
    }

    static func setFixedDt(_ r: inout SplitMix64, _ o: inout SolveOptions, _ span: (Double, Double), _ text: inout [String]) {
        let length = span.1 - span.0
        o.dt = r.weighted([(8, Swift.abs(length) / Double(r.pick([10, 100, 1000]))), (1, 0), (1, .nan), (1, 1e-300)])
        text.append("dt=\(o.dt!)")
    }

    // MARK: Algorithms

    static let integratorAlgorithms: [Algorithm] = [
        .tsit5, .vern9, .rk4, .dp5, .rosenbrock23(finiteDifferences: false), .rodas5P(finiteDifferences: false), .trbdf2(.init()),
        .kenCarp4(.init()), .kvaerno5(.init()), .autoTsit5,
    ]
    static let staticAlgorithms: [StaticAlgorithm] = [
        .tsit5, .dp5, .vern9, .rk4, .bs3, .rosenbrock23, .rodas4, .rodas5P, .trbdf2, .kenCarp4, .kvaerno5,
    ]

    static func drawNewton(_ r: inout SplitMix64) -> SDIRKNewtonOptions {
        if r.chance(70) { return SDIRKNewtonOptions() }
        return SDIRKNewtonOptions(
            kappa: r.pick([0.03, 0, -1, .nan, 10]), maxIterations: r.pick([7, 0, -1, 1, 100]),
            slowConvergenceRate: r.pick([0.3, 0, 2, .nan]), refactorThreshold: r.pick([0.2, 0, -1, .nan]))
    }

    static func drawAlgorithm(_ r: inout SplitMix64, allowGEC: Bool = true) -> Algorithm {
        switch r.int(0...(allowGEC ? 22 : 21)) {
        case 0: return .euler
        case 1: return .midpoint
        case 2: return .heun
        case 3: return .rk4
        case 4: return .bs3
        case 5: return .dp5
        case 6: return .tsit5
        case 7: return .vern6
        case 8: return .vern7
        case 9: return .vern8
        case 10: return .vern9
        case 11: return .dp8
        case 12: return .rosenbrock23(finiteDifferences: r.chance(20))
        case 13: return .rodas4(finiteDifferences: r.chance(20))
        case 14: return .rodas5P(finiteDifferences: r.chance(20))
        case 15: return .trbdf2(drawNewton(&r))
        case 16: return .kenCarp4(drawNewton(&r))
        case 17: return .kvaerno5(drawNewton(&r))
        case 18: return r.chance(50) ? .autoTsit5 : .autoVern7
        case 19, 20:
            return .cvodeAdams(
                maxOrder: r.weighted([(8, 12), (1, 0), (1, 13), (1, 1), (1, 5)]),
                maxNumSteps: r.weighted([(8, nil), (1, 0), (1, -1), (1, 10), (1, 500)]), newton: r.chance(30))
        case 21:
            return .cvodeBDF(
                maxOrder: r.weighted([(8, 5), (1, 0), (1, 6), (1, 1), (1, 2)]),
                maxNumSteps: r.weighted([(8, nil), (1, 0), (1, -1), (1, 10), (1, 500)]), fixedPoint: r.chance(15),
                stabilityLimitDetection: r.chance(20))
        default:
            let base = r.pick([Algorithm.tsit5, .dp5, .rodas5P(finiteDifferences: false), .kenCarp4(.init()),
                               .cvodeBDF(maxOrder: 5, maxNumSteps: nil, fixedPoint: false, stabilityLimitDetection: false),
                               .cvodeAdams(maxOrder: 12, maxNumSteps: nil, newton: false), .rk4])
            let odd = r.chance(20)
            return .globalErrorControl(
                base, maxSolves: odd ? r.pick([1, 0, 2, 50]) : 5, firstReduction: odd ? r.pick([10, 1, .nan, 1e10]) : 10,
                target: odd ? r.pick([0.3, 1, 0, -1]) : 0.3, minimumReltol: odd ? r.pick([1e-14, 0, 1e-300]) : 1e-14,
                exponent: odd ? r.pick([nil, 0, .nan, 5]) : nil)
        }
    }

    static func drawSensealg(_ r: inout SplitMix64) -> Sensealg {
        let maxOrder: Int? = r.weighted([(8, nil), (1, 1), (1, 2), (1, 5), (1, 0), (1, 6), (1, 13)])
        let maxNumSteps: Int? = r.weighted([(8, nil), (1, 0), (1, -1), (1, 10), (1, 1000)])
        switch r.int(0...9) {
        case 0: return .forwardDiff
        case 1: return .forwardSensitivity
        case 2: return .interpolating(checkpointing: r.chance(50))
        case 3: return .quadrature
        case 4: return .backsolve(checkpointing: r.chance(50), maxStateDrift: r.weighted([(6, 1000), (1, 0), (1, -1), (1, .nan), (1, 1e-3)]))
        case 5: return .auto(forwardModeLimit: r.weighted([(6, 16), (1, 0), (1, -1), (1, 1), (1, 1000)]))
        case 6, 7:
            return .cvodesForward(adams: r.chance(30), staggered: r.chance(40), errorControl: r.chance(70), maxOrder: maxOrder, maxNumSteps: maxNumSteps)
        default:
            return .cvodesAdjoint(
                adams: r.chance(30), stepsBetweenCheckpoints: r.weighted([(6, 100), (2, 1), (2, 2), (2, 3), (1, 0), (1, -1), (1, 1 << 20), (1, Int.max)]),
                polynomial: r.chance(40), quadratureErrorControl: r.chance(70), maxOrder: maxOrder, maxNumSteps: maxNumSteps)
        }
    }

    // MARK: Integrator use

    static func drawOps(_ r: inout SplitMix64, span: (Double, Double), n: Int) -> [IntegratorOp] {
        let (t0, t1) = span
        var ops: [IntegratorOp] = []
        for _ in 0..<r.int(1...6) {
            let tIn = t0 + (t1 - t0) * r.unit()
            let pLength: Int? = r.chance(20) ? r.pick([0, 9]) : nil
            let op: IntegratorOp = r.weighted([
                (4, .step(count: r.pick([1, 3, 20]))),
                (3, .advance(to: r.weighted([(6, tIn), (1, t1), (1, .nan), (1, t0 - 1), (1, t1 + 5), (1, .infinity)]))),
                (2, .setU(r.weighted([(6, .scaled(r.pick([0.5, 2, -1, 0]))), (1, .nan(component: r.int(0...max(0, n - 1)))), (1, .length(r.pick([0, n + 1])))]))),
                (1, .setT(r.pick([tIn, t1, t0, .nan, t1 + 1]))),
                (1, .setP(scale: r.pick([2, 0.5, .nan]), length: pLength)),
                (2, .setDt(r.pick([0, .nan, -0.01, 1e-300, 1e300, (t1 - t0) / 10]))),
                (3, .reinit(
                    u0: r.chance(50) ? nil : r.weighted([(6, .scaled(r.pick([0.5, 2]))), (1, .nan(component: 0)), (1, .length(n + 1))]),
                    t0: r.weighted([(3, nil), (2, t1), (2, tIn), (1, t0), (1, .nan), (1, t1 + 1), (1, t0 - 1)]))),
                (2, .interpolate(r.pick([tIn, t1, .nan]))),
            ])
            ops.append(op)
        }
        return ops
    }
}
