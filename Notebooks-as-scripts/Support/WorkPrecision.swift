import DiffEq

/// One solve of a work-precision sweep: accuracy reached and the work it took.
public struct WorkPrecisionPoint: Encodable {
    public let method: String
    public let reltol: Double
    public let error: Double
    public let nf: Int
    public let njacs: Int
    public let nlu: Int
    public let steps: Int
    public let seconds: Double
    public let retcode: String

    public init(
        method: String, reltol: Double, error: Double, nf: Int, njacs: Int = 0, nlu: Int = 0, steps: Int,
        seconds: Double, retcode: String
    ) {
        self.method = method
        self.reltol = reltol
        self.error = error
        self.nf = nf
        self.njacs = njacs
        self.nlu = nlu
        self.steps = steps
        self.seconds = seconds
        self.retcode = retcode
    }
}

/// A named algorithm applied to problems of one right-hand-side type (heterogeneous algorithms
/// in one list).
///
/// The initialiser is `@inlinable` on purpose: the closure it builds must be compiled in the
/// benchmark's own module, where `A` and `F` are concrete, so that the solve it times is
/// specialised. (Built here, generically, the solve would run through witness tables, ten times
/// slower: exactly what DESIGN.md §2 warns about.)
public struct BenchmarkMethod<F: ODEFunction> where F.Scalar == Double {
    public let name: String
    public let run: (ODEProblem<F>, SolveOptions) throws -> ODESolution<Double>

    @inlinable
    public init<A: ODEAlgorithm>(_ algorithm: A) {
        name = algorithm.name
        run = { try algorithm.solve($0, options: $1) }
    }

    /// Solves once for the error and statistics, then times repeated solves.
    public func measure(
        _ problem: ODEProblem<F>, options: SolveOptions, samples: Int, error: (ODESolution<Double>) -> Double
    ) throws -> WorkPrecisionPoint {
        let sol = try run(problem, options)
        let err = sol.retcode.isSuccessful ? error(sol) : .nan
        let seconds = try timePerCall(samples: samples) { _ = try run(problem, options) }
        return WorkPrecisionPoint(
            method: name, reltol: options.reltol, error: err, nf: sol.stats.nf, njacs: sol.stats.njacs,
            nlu: sol.stats.nluFactorizations, steps: sol.stats.naccept, seconds: seconds, retcode: sol.retcode.description)
    }
}

/// ``BenchmarkMethod`` for the fixed-size form (``StaticODEProblem``): a method named
/// "<method> (fixed-size)". The initialiser is `@inlinable` for the same reason: the timed solve
/// must be specialised in the benchmark's module.
public struct FixedSizeBenchmarkMethod<F: StaticODEFunction> where F.State.Scalar == Double {
    public let name: String
    public let run: (StaticODEProblem<F>, SolveOptions) throws -> StaticODESolution<F.State>

    @inlinable
    public init<A: StaticODEAlgorithm>(_ algorithm: A) {
        name = algorithm.name + " (fixed-size)"
        run = { try algorithm.solve($0, options: $1) }
    }

    /// Solves once for the error (of the end state) and statistics, then times repeated solves.
    public func measure(
        _ problem: StaticODEProblem<F>, options: SolveOptions, samples: Int, error: ([Double]) -> Double
    ) throws -> WorkPrecisionPoint {
        let sol = try run(problem, options)
        let err = sol.retcode.isSuccessful ? error(sol.u.last!.array) : .nan
        let seconds = try timePerCall(samples: samples) { _ = try run(problem, options) }
        return WorkPrecisionPoint(
            method: name, reltol: options.reltol, error: err, nf: sol.stats.nf, njacs: sol.stats.njacs,
            nlu: sol.stats.nluFactorizations, steps: sol.stats.naccept, seconds: seconds, retcode: sol.retcode.description)
    }
}

/// The fastest of `points`' methods (other than `excluding`) at accuracy `error`: each method's
/// time there is read off its own work-precision curve by log-log interpolation. Where a method's
/// curve does not reach that error because even its loosest run is more accurate, its fastest run
/// at least that accurate stands in (a conservative comparison: as accurate or better, in that
/// time). `nil` if no method qualifies.
///
/// The curve is the method's Pareto front: a run that another run of the same method beats on
/// both error and time is left out. End-point errors are not monotone in the tolerance (a loose
/// run can land closer to the reference than a tighter one, or a run can diverge at a loose
/// tolerance), and interpolating through such a dominated run would invent a time at errors no
/// run achieved.
public func fastest(_ points: [WorkPrecisionPoint], at error: Double, excluding: Set<String>) -> (method: String, seconds: Double)? {
    var best: (String, Double)?
    for name in Set(points.map(\.method)).subtracting(excluding).sorted() {
        let all = points.filter { $0.method == name && $0.error.isFinite && $0.error > 0 }
        let runs = all.filter { r in
            !all.contains { $0.error <= r.error && $0.seconds <= r.seconds && ($0.error < r.error || $0.seconds < r.seconds) }
        }
        var t = logLogInterpolate(runs.map { (x: $0.error, y: $0.seconds) }, at: error)
        if t == nil, let loosest = runs.map(\.error).max(), loosest < error {
            t = runs.filter { $0.error <= error }.map(\.seconds).min()
        }
        if let t, best == nil || t < best!.1 { best = (name, t) }
    }
    return best
}

/// Writes one CSV per method and a log-log work-precision PNG of all of them.
public func plotWorkPrecision(_ out: ScriptOutput, file: String, title: String, xlabel: String, points: [WorkPrecisionPoint]) throws {
    let names = Array(Set(points.map(\.method))).sorted()
    func csv(_ name: String) -> String { "\(file)_\(name.replacingOccurrences(of: " ", with: "_")).csv" }
    for name in names {
        let rows = points.filter { $0.method == name && $0.error.isFinite && $0.error > 0 }.map { [$0.error, $0.seconds] }
        try out.writeCSV(csv(name), header: ["error", "seconds"], rows: rows)
    }
    let plots = names.map { "'\(csv($0))' every ::1 using 1:2 with linespoints lw 2 title '\($0.replacingOccurrences(of: "_", with: "\\\\_"))'" }
    try out.gnuplot("""
        set output '\(file).png'
        set title 'Work-precision: \(title)'
        set logscale xy
        set format x '10^{%L}'
        set format y '10^{%L}'
        set xlabel '\(xlabel)'
        set ylabel 'seconds per solve'
        set datafile separator ','
        set key outside right
        plot \(plots.joined(separator: ", \\\n     "))
        """)
}
