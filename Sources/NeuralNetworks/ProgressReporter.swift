// An opt-in progress display for training runs. Library code never prints on its own: a caller
// that wants progress passes a reporter bound to a file handle.

public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes the iteration, loss, iterations per second and estimated time left of a training run
/// to a file handle: one line rewritten in place on a terminal, plain lines (every `every`
/// iterations) otherwise, for logs and pipes.
public struct ProgressReporter {
    public enum Style: Sendable {
        /// `terminal` when the handle is a terminal (`isatty`), `lines` otherwise.
        case automatic
        /// One line redrawn with a carriage return.
        case terminal
        /// A new line per report.
        case lines
    }

    public let handle: FileHandle
    public let every: Int
    public let isTerminal: Bool

    /// Throws unless `every >= 1`.
    public init(to handle: FileHandle = .standardOutput, style: Style = .automatic, every: Int = 1)
        throws(OptimizationError)
    {
        guard every >= 1 else {
            throw .invalidHyperparameter(name: "every", value: Double(every), requirement: "at least 1")
        }
        self.handle = handle
        self.every = every
        switch style {
        case .automatic: isTerminal = isatty(handle.fileDescriptor) != 0
        case .terminal: isTerminal = true
        case .lines: isTerminal = false
        }
    }

    /// The text of one report (without line control).
    public static func line(iteration: Int, of total: Int, loss: Double, elapsed: Double) -> String {
        let rate = elapsed > 0 ? Double(iteration) / elapsed : 0
        let left = rate > 0 ? Double(total - iteration) / rate : 0
        return String(
            format: "iteration %d/%d  loss %.6e  %.1f it/s  %.1f s left", iteration, total, loss, rate, left)
    }

    @usableFromInline
    mutating func report(iteration: Int, of total: Int, loss: Double, elapsed: Double) {
        guard iteration % every == 0 || iteration == total else { return }
        let text = Self.line(iteration: iteration, of: total, loss: loss, elapsed: elapsed)
        write(isTerminal ? "\r\u{1B}[2K" + text : text + "\n")
    }

    @usableFromInline
    func finish(status: TrainingStatus, iteration: Int, loss: Double, elapsed: Double) {
        let text =
            "\(status.description); \(iteration) iterations, "
            + String(format: "loss %.6e, %.2f s", loss, elapsed)
        write(isTerminal ? "\r\u{1B}[2K" + text + "\n" : text + "\n")
    }

    private func write(_ text: String) {
        handle.write(Data(text.utf8))
    }
}
