import DiffEqCore

/// CVODE's own interpolating polynomial of every step, the one `CVodeGetDky` (and so `saveat`)
/// evaluates: after a step from `t_n − h` to `t_n` at order `q`, CVODE's Nordsieck array
/// `z_j = h^j y^(j)(t_n) / j!` (`j = 0...q`) defines `p(t) = Σ_j z_j ((t − t_n)/h)^j` on
/// `[t_n − h, t_n]` (CVODES User Guide, SUNDIALS 6.x, §2.1 and `CVodeGetDky`; Byrne &
/// Hindmarsh 1975). A step's `z_j` are read as `CVodeGetDky(t_n, j)·h^j/j!`, so the dense output
/// is exactly what `saveat` gets at every `t`, of the order CVODE uses (up to 5 for BDF, 12 for
/// Adams), where a cubic Hermite through the step ends was 568 tolerances off between the
/// steps of DETEST A3 at reltol 1e-10 (issue #13).
///
/// Nodes are the step ends; a node that starts a segment (`t0`, and the state after an event
/// changed it: a zero-length interval marks the jump) carries no polynomial. Memory: `q + 1`
/// state vectors per step.
struct CVODEPolynomialDenseOutput<Scalar: DiffEqScalar>: DenseOutput, Sendable {
    let times: [Double]
    /// The state at each node (for the ends of a zero-length or polynomial-less interval).
    let states: [[Double]]
    /// The step `h` of the step ending at each node (0 for a segment start).
    let steps: [Double]
    /// `z_0, ..., z_q` of that step, concatenated (`(q + 1) n` values; empty for a segment start).
    let coefficients: [[Double]]

    var stateCount: Int { states.first?.count ?? 0 }

    var domain: (Double, Double) {
        guard let a = times.first, let b = times.last else { return (0, -1) }
        return (Swift.min(a, b), Swift.max(a, b))
    }

    func evaluate(at t: Double, into out: inout [Scalar]) {
        let i = intervalIndex(times, t)
        let node = i + 1
        let n = out.count
        let z = coefficients[node]
        guard !z.isEmpty, steps[node] != 0 else {
            // Not reached through `intervalIndex` (it skips zero-length intervals); linear as
            // the safe answer if it ever is.
            let h = times[node] - times[i]
            let s = h == 0 ? 1 : (t - times[i]) / h
            for k in 0..<n { out[k] = Scalar(states[i][k] + s * (states[node][k] - states[i][k])) }
            return
        }
        let s = (t - times[node]) / steps[node]
        let q = z.count / n - 1
        for k in 0..<n {
            // Horner in s.
            var v = z[q * n + k]
            var j = q - 1
            while j >= 0 {
                v = v * s + z[j * n + k]
                j -= 1
            }
            out[k] = Scalar(v)
        }
    }
}
