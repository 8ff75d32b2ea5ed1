import DiffEqCore

/// Statistics of an ensemble over time at common save points: for each time and state
/// component, the mean, the variance and quantiles across trajectories (DifferentialEquations.jl's
/// `EnsembleSummary`, `timestep_mean`, `timestep_quantile`).
///
/// Every statistic runs over the trajectories in trajectory order, so a summary has the same
/// bits on every back end.
public struct EnsembleSummary: Sendable, Equatable {
    public let times: [Double]
    /// The trajectories summarized.
    public let count: Int
    /// The trajectories left out because their solve did not succeed.
    public let excluded: [Int]
    /// `mean[k][j]`: component `j` at `times[k]`.
    public let mean: [[Double]]
    /// The unbiased sample variance (divisor `count - 1`; 0 for one trajectory).
    public let variance: [[Double]]
    /// The quantile levels, in `[0, 1]`.
    public let levels: [Double]
    /// `quantiles[q][k][j]`: quantile `levels[q]` of component `j` at `times[k]`.
    public let quantiles: [[[Double]]]

    /// Summarizes `values[i][k][j]`, component `j` of trajectory `i` at `times[k]`. Quantiles
    /// are Hyndman & Fan's (1996) type 7 (linear interpolation between order statistics; R's,
    /// NumPy's and Julia's `Statistics.quantile` default). Throws when the shapes disagree or
    /// a level is outside `[0, 1]`.
    public init(times: [Double], values: [[[Double]]], levels: [Double] = [0.05, 0.5, 0.95], excluded: [Int] = [])
        throws(EnsembleError)
    {
        guard !values.isEmpty else { throw .invalidArgument("EnsembleSummary needs at least one trajectory") }
        guard levels.allSatisfy({ $0 >= 0 && $0 <= 1 }) else {
            throw .invalidArgument("quantile levels must lie in [0, 1], got \(levels)")
        }
        let n = values[0].first?.count ?? 0
        for (i, series) in values.enumerated() {
            guard series.count == times.count else {
                throw .invalidArgument("trajectory \(i) has \(series.count) saved points, expected \(times.count) (use saveat)")
            }
            guard series.allSatisfy({ $0.count == n }) else {
                throw .invalidArgument("trajectory \(i) has a state of another length than \(n)")
            }
        }
        let m = Double(values.count)
        var mean = [[Double]](repeating: [Double](repeating: 0, count: n), count: times.count)
        var variance = mean
        var quantiles = [[[Double]]](repeating: mean, count: levels.count)
        var column = [Double](repeating: 0, count: values.count)
        for k in times.indices {
            for j in 0..<n {
                for i in values.indices { column[i] = values[i][k][j] }
                // Two passes (mean, then squared deviations): accurate where the spread is small
                // against the mean (Chan, Golub & LeVeque 1983).
                var sum = 0.0
                for x in column { sum += x }
                let mu = sum / m
                var squares = 0.0
                for x in column { squares += (x - mu) * (x - mu) }
                mean[k][j] = mu
                variance[k][j] = values.count > 1 ? squares / (m - 1) : 0
                let sorted = column.sorted()
                for (q, level) in levels.enumerated() {
                    let h = (m - 1) * level
                    let lo = Int(h.rounded(.down))
                    let hi = min(lo + 1, sorted.count - 1)
                    quantiles[q][k][j] = sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
                }
            }
        }
        self.times = times
        self.count = values.count
        self.excluded = excluded
        self.mean = mean
        self.variance = variance
        self.levels = levels
        self.quantiles = quantiles
    }

    /// Summarizes solutions saved at common times (`saveat`); solutions whose return code is not
    /// successful are left out and listed in ``excluded`` (by their position in `solutions`).
    public init(_ solutions: [ODESolution<Double>], levels: [Double] = [0.05, 0.5, 0.95]) throws(EnsembleError) {
        let kept = solutions.indices.filter { solutions[$0].retcode.isSuccessful }
        guard let first = kept.first else { throw .invalidArgument("EnsembleSummary: no successful trajectory") }
        let times = solutions[first].t
        for i in kept where solutions[i].t != times {
            throw .invalidArgument("trajectory \(i) was saved at other times than trajectory \(first) (use saveat)")
        }
        try self.init(
            times: times, values: kept.map { solutions[$0].u }, levels: levels,
            excluded: solutions.indices.filter { !solutions[$0].retcode.isSuccessful })
    }

    /// A gnuplot script (data inline) that draws component `component` as a band between the
    /// quantiles `levels[lower]` and `levels[upper]` with the mean as a line, into the PNG `png`;
    /// run it with gnuplot (the scripts' `ScriptOutput.gnuplot`). `logX`, `logY` plot on log
    /// axes; `scale` multiplies the values (to plot a tiny component such as ROBER's `y₂`).
    public func gnuplotBandScript(
        component: Int, png: String, title: String, ylabel: String, lower: Int = 0, upper: Int? = nil,
        logX: Bool = false, logY: Bool = false, scale: Double = 1, size: (Int, Int) = (800, 500)
    ) throws(EnsembleError) -> String {
        let hi = upper ?? levels.count - 1
        guard times.indices.contains(0), (0..<(mean.first?.count ?? 0)).contains(component) else {
            throw .invalidArgument("no component \(component) to plot")
        }
        guard levels.indices.contains(lower), levels.indices.contains(hi) else {
            throw .invalidArgument("quantile indices \(lower), \(hi) outside 0..<\(levels.count)")
        }
        var script = "$band << EOD\n"
        for k in times.indices {
            let row = [quantiles[lower][k][component], quantiles[hi][k][component], mean[k][component]].map { $0 * scale }
            script += "\(times[k]) \(row[0]) \(row[1]) \(row[2])\n"
        }
        script += "EOD\n"
        script += "set terminal pngcairo size \(size.0),\(size.1)\nset output '\(png)'\n"
        script += "set title '\(title) (\(count) trajectories)'\nset xlabel 't'\nset ylabel '\(ylabel)'\n"
        script += "set key top right\n"
        if logX { script += "set logscale x\nset format x '10^{%L}'\n" }
        if logY { script += "set logscale y\n" }
        let band = "\(Int((levels[lower] * 100).rounded()))-\(Int((levels[hi] * 100).rounded())) % band"
        script += "plot $band using 1:2:3 with filledcurves fillcolor rgb '#9ecae1' title '\(band)', "
        script += "$band using 1:4 with lines linewidth 2 linecolor rgb '#08519c' title 'mean'\n"
        return script
    }
}
