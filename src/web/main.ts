// The web client entry point: public/index.html loads the bundle of this file as public/app.js.
import { App } from './app.js';

new App().start();
